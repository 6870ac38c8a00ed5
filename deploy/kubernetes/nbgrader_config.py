# nbgrader in the students' image: the course, and ngshare as the exchange (pods share no filesystem).
# ngshare runs as a JupyterHub service (values.yaml); the URL is its address inside the cluster.
from ngshare_exchange import configureExchange

c = get_config()  # noqa: F821
c.CourseDirectory.course_id = "attention-course"
configureExchange(c, "http://ngshare.jhub.svc.cluster.local:8080/services/ngshare")
