# nbgrader in the grading image (/etc/jupyter/nbgrader_config.py, loaded before the course directory's own
# nbgrader_config.py, which sets no exchange root): nbgrader's filesystem exchange on the volume the students'
# servers mount, and the table that names each uid's owner, since the pod has no account per student.
c = get_config()  # noqa: F821
c.Exchange.root = "/srv/nbgrader/exchange"
c.OwnerCheckedCollect.uid_table = "/etc/attention-course/uids.csv"
