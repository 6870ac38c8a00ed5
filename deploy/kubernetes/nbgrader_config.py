# nbgrader in the students' image: the course, and nbgrader's own filesystem exchange on a volume every pod
# mounts (ReadWriteMany, deploy/kubernetes/grader.yaml). Each student's pod runs as that student's own uid
# (deploy/kubernetes/course_spawner.py), so the exchange works as on one machine: a submission is owned by its
# author, readable by the graders' group only (PrivateSubmit), and collected only if its owner is the student it
# names (helpers.grading.exchange.OwnerCheckedCollect, in the grader's course directory).
c = get_config()  # noqa: F821
c.CourseDirectory.course_id = "attention-course"
c.Exchange.root = "/srv/nbgrader/exchange"
c.ExchangeFactory.submit = "helpers.exchange_submit.PrivateSubmit"
