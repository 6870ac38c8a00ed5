"""deploy/kubernetes/ checked without a cluster: the images' requirements resolve with the course's pins, the
student pod that the chart's KubeSpawner renders from the committed values is the one the course relies on, and
the grading Deployment has what an external JupyterHub service and the sandbox need.

The Zero to JupyterHub chart 4.4.0 turns ``singleuser.*`` values into KubeSpawner traits in its
files/hub/jupyterhub_config.py; ``_chart_config`` does the same for the keys the course sets, with the chart's
defaults (its values.yaml) for the others, and then loads what the chart loads after them: hub.extraFiles'
``jupyterhub_config.d/course_spawner.py`` and hub.extraConfig. KubeSpawner is the chart's version (7.0.0).
"""

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ENV, ROOT
from jupyterhub import orm
from jupyterhub.objects import Hub
from jupyterhub.services.service import Service, _MockUser, _ServiceSpawner
from kubernetes_asyncio.client import ApiClient
from kubernetes_asyncio.config import kube_config
from kubespawner import KubeSpawner
from traitlets.config import Config

KUBE = ROOT / "deploy" / "kubernetes"
VALUES = yaml.safe_load((KUBE / "values.yaml").read_text())
SERVICE = "attention-course"
# The chart's defaults (values.yaml of chart 4.4.0) for the singleuser keys the course leaves alone.
CHART_DEFAULTS = {
    "uid": 1000,
    "fsGid": 100,
    "cmd": "jupyterhub-singleuser",
    "storage": {
        "type": "dynamic",
        "homeMountPath": "/home/jovyan",
        "volumeNameTemplate": "volume-{user_server}",
    },
}


def _chart_config(values, uids):
    """The hub's KubeSpawner config, as chart 4.4.0's files/hub/jupyterhub_config.py makes it from ``values``."""
    c = Config()
    single = values["singleuser"]
    spawner = c.KubeSpawner
    spawner.uid = single.get("uid", CHART_DEFAULTS["uid"])  # ("uid", None): singleuser.uid
    spawner.fs_gid = single.get("fsGid", CHART_DEFAULTS["fsGid"])  # ("fs_gid", None): singleuser.fsGid
    spawner.cmd = [single.get("cmd", CHART_DEFAULTS["cmd"])]  # c.Spawner.cmd from singleuser.cmd
    spawner.default_url = single["defaultUrl"]  # c.Spawner.default_url from singleuser.defaultUrl
    spawner.environment = single.get("extraEnv", {})  # ("environment", "extraEnv")
    spawner.mem_limit, spawner.mem_guarantee = single["memory"]["limit"], single["memory"]["guarantee"]
    spawner.cpu_limit, spawner.cpu_guarantee = single["cpu"]["limit"], single["cpu"]["guarantee"]
    spawner.image = f"{single['image']['name']}:{single['image']['tag']}"  # singleuser.image.name:tag
    storage = single["storage"]
    volume = CHART_DEFAULTS["storage"]["volumeNameTemplate"]  # storage.type dynamic: the home volume
    spawner.storage_capacity = storage["capacity"]
    volumes = {volume: {"name": volume, "persistentVolumeClaim": {"claimName": "{pvc_name}"}}}
    mounts = {volume: {"mountPath": CHART_DEFAULTS["storage"]["homeMountPath"], "name": volume}}
    volumes.update(storage.get("extraVolumes", {}))  # a dict: merged, as the chart does
    mounts.update(storage.get("extraVolumeMounts", {}))
    spawner.volumes, spawner.volume_mounts = volumes, mounts
    # Then jupyterhub_config.d/*.py (hub.extraFiles), then hub.extraConfig, in that order.
    config_d = [f for f in values["hub"]["extraFiles"].values() if "jupyterhub_config.d" in f["mountPath"]]
    assert [Path(f["mountPath"]).name for f in config_d] == ["course_spawner.py"]
    os.environ["ATTENTION_COURSE_UIDS"] = str(uids)
    try:
        exec(
            compile((KUBE / "course_spawner.py").read_text(), "course_spawner.py", "exec"),
            {"get_config": lambda: c},
        )
    finally:
        del os.environ["ATTENTION_COURSE_UIDS"]
    for _, code in sorted(values["hub"]["extraConfig"].items()):
        exec(code, {"c": c, "get_config": lambda: c})
    return c


class _User:
    def __init__(self, name):
        self.name, self.id, self.url, self.escaped_name = name, 7, f"/user/{name}/", name


def _pod(config, name):
    """The pod as KubeSpawner would send it to the API: plain data, the API's own field names."""

    async def render():  # KubeSpawner makes its API client in a running event loop
        spawner = KubeSpawner(config=config, user=_User(name), _mock=True)
        return ApiClient().sanitize_for_serialization(await spawner.get_pod_manifest())

    return asyncio.run(render())


# KubeSpawner loads a client configuration when made; this one names a cluster that nothing ever contacts
# (rendering a manifest needs no API call).
NO_CLUSTER = """apiVersion: v1
kind: Config
clusters: [{name: none, cluster: {server: "https://127.0.0.1:9"}}]
users: [{name: none, user: {token: none}}]
contexts: [{name: none, context: {cluster: none, user: none}}]
current-context: none
"""


@pytest.fixture(scope="module")
def uids(tmp_path_factory):
    folder = tmp_path_factory.mktemp("kube")
    (folder / "kubeconfig").write_text(NO_CLUSTER)
    kube_config.KUBE_CONFIG_DEFAULT_LOCATION = str(
        folder / "kubeconfig"
    )  # read at import, where KUBECONFIG is
    (folder / "roster.csv").write_text("id,first_name\nada,Ada\nbo,Bo\n")
    subprocess.run(
        [sys.executable, KUBE / "course_spawner.py", folder / "roster.csv", folder / "uids.csv"], check=True
    )
    return folder / "uids.csv"


def test_the_uid_table_gives_each_person_one_uid_for_good(uids, tmp_path):
    assert uids.read_text().splitlines() == ["id,uid", "ada,20000", "bo,20001"]
    (tmp_path / "later.csv").write_text("id\ncy\nbo\n")  # the roster later: a new student, an old one
    table = tmp_path / "uids.csv"
    table.write_text(uids.read_text())
    run = subprocess.run(
        [sys.executable, KUBE / "course_spawner.py", tmp_path / "later.csv", table],
        capture_output=True,
        text=True,
    )
    assert run.stdout.strip() == f"1 new uid(s) in {table}: cy"
    assert table.read_text().splitlines() == ["id,uid", "ada,20000", "bo,20001", "cy,20002"], "no uid changes"


def test_the_student_pod_is_the_courses(uids):
    pod = _pod(_chart_config(VALUES, uids), "bo")
    (container,) = pod["spec"]["containers"]
    assert container["image"] == "<registry>/attention-course-student:0.2.0"
    assert container["args"] == ["jupyterhub-singleuser"]
    # Bo's own uid, the students' group, and never the graders' (course_spawner.py).
    assert container["securityContext"] == {
        "runAsUser": 20001,
        "runAsGroup": 20000,
        "allowPrivilegeEscalation": False,
    }
    assert pod["spec"]["securityContext"] == {"fsGroup": 20000}, "no supplemental group: not the graders'"
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["JUPYTER_CONFIG_PATH"] == "/usr/local/etc/jupyter/student", "instructor tools off"
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    claims = {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in pod["spec"]["volumes"]}
    assert claims[mounts["/srv/nbgrader/exchange"]] == "attention-course-exchange"
    assert claims[mounts["/home/jovyan"]].startswith("claim-bo")
    # The image's nbgrader configuration uses that mount as the exchange.
    assert 'c.Exchange.root = "/srv/nbgrader/exchange"' in (KUBE / "nbgrader_config.py").read_text()


def test_someone_without_a_uid_gets_no_pod(uids):
    with pytest.raises(ValueError, match="mallory has no uid"):
        _pod(_chart_config(VALUES, uids), "mallory")


def _grader():
    return {doc["kind"]: doc for doc in yaml.safe_load_all((KUBE / "grader.yaml").read_text()) if doc}


def test_the_grading_deployment_is_one_pod_at_a_time_that_may_reach_the_hub():
    deployment = _grader()["Deployment"]
    assert deployment["spec"]["replicas"] == 1 and deployment["spec"]["strategy"]["type"] == "Recreate"
    template = deployment["spec"]["template"]
    assert template["metadata"]["labels"]["hub.jupyter.org/network-access-hub"] == "true"
    service = _grader()["Service"]
    assert VALUES["hub"]["services"][SERVICE]["url"] == (
        f"http://{service['metadata']['name']}.jhub.svc.cluster.local:{service['spec']['ports'][0]['port']}"
    )
    (container,) = template["spec"]["containers"]
    assert "helpers.grading.service" in (KUBE / "Dockerfile.grader").read_text(), (
        "it starts through the probe"
    )
    assert template["spec"]["hostUsers"] is False and container["securityContext"]["procMount"] == "Unmasked"
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    claims = {
        v["name"]: v.get("persistentVolumeClaim", {}).get("claimName") for v in template["spec"]["volumes"]
    }
    assert claims[mounts["/srv/nbgrader/exchange"]] == "attention-course-exchange", "the students' exchange"


def _managed_service_env():
    """The JUPYTERHUB_* environment JupyterHub 5.5.0 itself gives this service when it runs it (on one machine):
    its own code, run here."""
    hub = Hub(ip="127.0.0.1", port=8081, base_url="/hub/")
    service = Service(name=SERVICE, url="http://127.0.0.1:8888", hub=hub)
    server = orm.Server(base_url=f"/services/{SERVICE}/")
    spawner = _ServiceSpawner(
        cmd=["jupyterhub-singleuser"], api_token="x", oauth_client_id=f"service-{SERVICE}", _service_name=SERVICE,
        hub=hub, user=_MockUser(name="", service=service, server=server, host=""),
    )  # fmt: skip
    env = spawner.get_env()
    env.pop("JUPYTERHUB_ACTIVITY_URL")  # Service.start drops it, and adds these two:
    env.update(JUPYTERHUB_SERVICE_NAME=SERVICE, JUPYTERHUB_SERVICE_PREFIX=server.base_url)
    return {key: value for key, value in env.items() if key.startswith("JUPYTERHUB_")}


def test_the_grader_has_the_environment_jupyterhub_gives_a_service_it_runs():
    (container,) = _grader()["Deployment"]["spec"]["template"]["spec"]["containers"]
    ours = {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}
    assert ours["JUPYTERHUB_API_TOKEN"] == {
        "secretKeyRef": {"name": "hub", "key": f"hub.services.{SERVICE}.apiToken"}  # the chart's Secret
    }
    where = {"JUPYTERHUB_API_URL": "http://hub:8081/hub/api", "JUPYTERHUB_SERVICE_URL": "http://0.0.0.0:8888"}
    for key, value in _managed_service_env().items():
        if key == "JUPYTERHUB_API_TOKEN" or value in ("", "[]", "0"):  # unset, or nothing to say
            continue
        assert key in ours, key
        assert ours[key] == where.get(key, value), key
    assert json.loads(ours["JUPYTERHUB_OAUTH_ACCESS_SCOPES"]) == [
        "access:services",
        f"access:services!service={SERVICE}",
    ]


def test_the_grading_service_refuses_to_start_without_its_sandbox(tmp_path):
    no_bwrap = {**ENV, "PATH": str(Path(sys.executable).parent)}  # python and jupyterhub-singleuser, no bwrap
    for env in (no_bwrap, {**ENV, "ATTENTION_GRADER_SANDBOX": "off"}):
        run = subprocess.run(
            [sys.executable, "-m", "helpers.grading.service"],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        assert run.returncode == 1
        assert run.stderr.strip().splitlines() == [
            "Not starting the grading service: bubblewrap cannot create the sandbox of grading kernels here (user "
            "namespaces and /proc; docs/deploy.md, 'Grading where the sandbox works'), and student code is never "
            "graded unsandboxed."
        ]
    run = subprocess.run(
        [sys.executable, "-m", "helpers.grading.service", "--version"],
        env=ENV,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0 and run.stdout.strip() == "5.5.0", (
        "with the sandbox, it is jupyterhub-singleuser"
    )


def _requirements():
    return sorted(p.relative_to(ROOT) for p in (ROOT / "deploy").rglob("*requirements*.txt"))


@pytest.mark.parametrize("requirements", _requirements(), ids=str)
def test_every_requirements_file_under_deploy_resolves_with_the_course_pins(requirements):
    """pip's resolver, in dry-run mode, with the class environment (requirements.txt) and every pin; what it
    would add to this environment (which holds every pin: tests/test_environment.py) is pinned too."""
    run = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--report", "-",
         "-c", "constraints.txt", "-r", "requirements.txt", "-r", str(requirements)],
        cwd=ROOT, capture_output=True, text=True, env=ENV,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    pins = {
        line.split("==")[0].lower().replace("_", "-")
        for line in (ROOT / "constraints.txt").read_text().split()
    }
    added = [item["metadata"]["name"] for item in json.loads(run.stdout)["install"]]
    assert not [name for name in added if name.lower().replace("_", "-") not in pins], added


def test_the_images_pin_the_charts_jupyterhub():
    assert "jupyterhub==5.5.0" in (KUBE / "singleuser-requirements.txt").read_text().split()
    assert "--version 4.4.0" in (KUBE / "values.yaml").read_text(), (
        "the chart whose hub runs JupyterHub 5.5.0"
    )
    for dockerfile in ("Dockerfile", "Dockerfile.grader"):
        assert "singleuser-requirements.txt" in (KUBE / dockerfile).read_text(), dockerfile


def test_the_grader_names_each_uid_s_owner_from_the_table(tmp_path):
    """In the grading pod there is no account per student: the collect step reads owners from the uid table."""
    from helpers.grading.exchange import OwnerCheckedCollect, _owner

    (tmp_path / "uids.csv").write_text(f"id,uid\nada,{os.getuid()}\nbo,{os.getuid() + 1}\n")
    collect = OwnerCheckedCollect(uid_table=str(tmp_path / "uids.csv"))
    folder = tmp_path / "ada+attention+2025-01-01 00:00:00.000000 UTC+x"
    folder.mkdir()
    assert _owner(folder, collect._uids()) == "ada"
    assert _owner(folder, {os.getuid() + 1: "bo"}) is None, "a uid the table does not name is nobody's"
    assert OwnerCheckedCollect()._uids() is None, "without a table, the system's accounts (one machine)"
