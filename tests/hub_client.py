"""A person at a JupyterHub, through HTTP only: log in, wait for their server, call its APIs, run code in a kernel.

The same requests a browser makes: the hub's login form, the OAuth redirects to the person's server, the
assignment list that JupyterLab's Assignments tab calls (nbgrader's server extension), the contents API that
opens and saves notebooks, and a kernel's websocket. Used by tests/test_hub.py and the load bench.
"""

import json
import time
import uuid

import requests
import websocket


class HubUser:
    """``ca``: the certificate file that a hub serving https is checked against (its own, if self-signed)."""

    def __init__(self, base, name, password, ca=None):
        self.base, self.name, self.password, self.ca = base, name, password, ca
        self.session = requests.Session()
        self.session.trust_env = False  # a loopback hub: no proxy, and REQUESTS_CA_BUNDLE would override ca
        self.session.verify = ca or True
        self.server = f"{base}/user/{name}"

    def log_in(self, follow=True):
        """Log in at the hub's login page; the hub then starts this person's server. Returns the reply. With
        ``follow=False`` the hub's redirect after a good password is not followed, so no server starts."""
        self.session.get(f"{self.base}/hub/login")
        return self.session.post(
            f"{self.base}/hub/login?next=",
            data={"username": self.name, "password": self.password, "_xsrf": self.session.cookies["_xsrf"]},
            allow_redirects=follow,
        )

    def wait_for_server(self, timeout=90):
        """Open JupyterLab as a browser would (following the hub's redirects) until the server answers."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            reply = self.session.get(f"{self.server}/lab")
            if reply.status_code == 200 and reply.url.startswith(self.server):
                return reply
            time.sleep(0.5)
        raise TimeoutError(f"{self.name}'s server did not start within {timeout} s")

    def _xsrf(self):
        return {"X-XSRFToken": self.session.cookies.get("_xsrf", path=f"/user/{self.name}/")}

    def get(self, path, **params):
        return self.session.get(f"{self.server}/{path}", params=params)

    def post(self, path, data=None, json_body=None):
        return self.session.post(f"{self.server}/{path}", data=data, json=json_body, headers=self._xsrf())

    def put(self, path, json_body):
        return self.session.put(f"{self.server}/{path}", json=json_body, headers=self._xsrf())

    # nbgrader's assignment list (the JupyterLab Assignments tab)
    def assignments(self, course):
        reply = self.get("assignments", course_id=course)
        reply.raise_for_status()
        return reply.json()

    def assignment_action(self, action, course, assignment):
        reply = self.post(f"assignments/{action}", data={"course_id": course, "assignment_id": assignment})
        reply.raise_for_status()
        return reply.json()

    # notebooks
    def read_notebook(self, path):
        reply = self.get(f"api/contents/{path}", content=1)
        reply.raise_for_status()
        return reply.json()["content"]

    def save_notebook(self, path, notebook):
        reply = self.put(f"api/contents/{path}", {"type": "notebook", "format": "json", "content": notebook})
        reply.raise_for_status()

    def delete(self, path):
        reply = self.session.delete(f"{self.server}/api/contents/{path}", headers=self._xsrf())
        reply.raise_for_status()

    def read_file(self, path):
        return self.get(f"api/contents/{path}", content=1, type="file", format="text")

    # kernels
    def start_kernel(self, cwd=""):
        reply = self.post("api/kernels", json_body={"name": "python3", "path": cwd})
        reply.raise_for_status()
        return Kernel(self, reply.json()["id"])


class Kernel:
    """One kernel of a person's server, over its websocket, with the person's cookies."""

    def __init__(self, user, kernel_id):
        self.user, self.id = user, kernel_id
        url = (
            "ws" + user.server.removeprefix("http") + f"/api/kernels/{kernel_id}/channels"
        )  # ws:// or wss://
        cookies = "; ".join(f"{c.name}={c.value}" for c in user.session.cookies)
        tls = {"sslopt": {"ca_certs": user.ca}} if user.ca else {}
        self.socket = websocket.create_connection(url, cookie=cookies, timeout=120, **tls)

    def run(self, code, timeout=120):
        """Execute code; return (status, text printed, error name and value or None)."""
        msg_id = uuid.uuid4().hex
        self.socket.send(
            json.dumps(
                {
                    "header": {
                        "msg_id": msg_id,
                        "msg_type": "execute_request",
                        "session": uuid.uuid4().hex,
                        "username": self.user.name,
                        "version": "5.3",
                    },
                    "parent_header": {},
                    "metadata": {},
                    "content": {
                        "code": code,
                        "silent": False,
                        "store_history": False,
                        "user_expressions": {},
                        "allow_stdin": False,
                    },
                    "channel": "shell",
                }
            )
        )
        printed, error, status, idle = [], None, None, False
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = json.loads(self.socket.recv())
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = message["msg_type"], message["content"]
            if kind == "stream":
                printed.append(content["text"])
            elif kind in ("execute_result", "display_data"):
                printed.append(content["data"].get("text/plain", ""))
            elif kind == "error":
                error = f"{content['ename']}: {content['evalue']}"
            elif kind == "execute_reply":
                status = content["status"]
            elif kind == "status" and content["execution_state"] == "idle":
                idle = True
            if status and idle:  # the reply (shell) and idle (iopub) arrive in either order
                return status, "".join(printed), error
        raise TimeoutError("the kernel did not finish")

    def shut_down(self):
        self.socket.close()
        self.user.session.delete(f"{self.user.server}/api/kernels/{self.id}", headers=self.user._xsrf())
