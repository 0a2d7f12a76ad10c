#!/usr/bin/env python3
"""Runs the causeway binary as the chart's Deployment would run it in a pod, without a container
engine or a kubelet: the machines that test Causeway have neither.

  pod.py prepare --deployment FILE --namespace NS --containerfile FILE --binary BIN --site DIR
                 --kubectl KUBECTL --kubeconfig FILE --state DIR     -> writes DIR/plan.json
  pod.py run DIR/plan.json     (inside `unshare --mount`) -> becomes the container's process

`prepare` does a kubelet's share of the work from objects the API server holds: the container's
environment (secretKeyRef and configMapKeyRef resolved from the live Secret and ConfigMap), its
volumes (Secrets and ConfigMaps written out as files, emptyDirs as tmpfs, claims as directories),
the ServiceAccount token, CA and namespace a pod finds under
/var/run/secrets/kubernetes.io/serviceaccount, KUBERNETES_SERVICE_HOST and _PORT (the API server
of the kubeconfig), the user, working directory and command. The image is the final stage of the
Containerfile: its ENV, USER, WORKDIR, ENTRYPOINT and CMD, and the files it copies from the build
stage, which map to what `make` builds here (SOURCES below); the base image's files are the host's
/usr and a minimal /etc.

`run` builds that root in a private mount namespace, with every mount but the volumes read-only
(readOnlyRootFilesystem), checks that the working directory cannot be written, chroots, drops to
the pod's user and groups (when started as root; under an unprivileged user namespace it stays the
calling user) and executes the command. Nothing outside the namespace sees the mounts, and they go
away with the process.
"""

import argparse
import base64
import errno
import json
import os
import shlex
import subprocess
import sys
from urllib.parse import urlparse

SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
# Where the build stage's outputs are on this machine: the Containerfile builds with
# CARGO_TARGET_DIR=/src/target from a copy of the repository at /src.
SOURCES = {
    "/src/target/release/causeway": "binary",
    "/src/target/site": "site",
}
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def fail(message):
    print(f"pod.py: {message}", file=sys.stderr)
    sys.exit(1)


def final_stage(containerfile):
    """ENV, USER, WORKDIR, ENTRYPOINT, CMD and COPY --from lines of the last stage."""
    lines, current = [], ""
    with open(containerfile, encoding="utf-8") as f:
        for raw in f:
            line = raw.rstrip("\n")
            if not current and (not line.strip() or line.lstrip().startswith("#")):
                continue
            if line.endswith("\\"):
                current += line[:-1] + " "
                continue
            lines.append(current + line)
            current = ""
    stages = [i for i, line in enumerate(lines) if line.split()[0].upper() == "FROM"]
    if not stages:
        fail(f"{containerfile} has no FROM")
    image = {"env": {}, "user": None, "workdir": "/", "entrypoint": [], "cmd": [], "copies": []}
    for line in lines[stages[-1] + 1 :]:
        word, _, rest = line.strip().partition(" ")
        word, rest = word.upper(), rest.strip()
        if word == "ENV":
            for pair in shlex.split(rest):
                key, _, value = pair.partition("=")
                image["env"][key] = value
        elif word == "USER":
            image["user"] = rest
        elif word == "WORKDIR":
            image["workdir"] = rest
        elif word in ("ENTRYPOINT", "CMD"):
            image[word.lower()] = json.loads(rest)
        elif word == "COPY":
            parts = shlex.split(rest)
            flags = [p for p in parts if p.startswith("--")]
            paths = [p for p in parts if not p.startswith("--")]
            if not any(f.startswith("--from=") for f in flags) or len(paths) != 2:
                fail(f"the final stage may only copy one path from an earlier stage: {line}")
            image["copies"].append({"from": paths[0], "to": paths[1]})
    return image


def kubectl_json(what):
    out = subprocess.run(
        [ARGS.kubectl, "--kubeconfig", ARGS.kubeconfig, "--context", "admin", *what, "-o", "json"],
        check=True, capture_output=True, text=True,
    ).stdout
    return json.loads(out)


def object_data(kind, name):
    """The data of a live Secret or ConfigMap, as bytes per key."""
    obj = kubectl_json(["-n", ARGS.namespace, "get", kind, name])
    if kind == "secret":
        return {k: base64.b64decode(v) for k, v in obj.get("data", {}).items()}
    data = {k: v.encode() for k, v in obj.get("data", {}).items()}
    data.update({k: base64.b64decode(v) for k, v in obj.get("binaryData", {}).items()})
    return data


def write_files(directory, data, items, optional=False):
    os.makedirs(directory, exist_ok=True)
    chosen = items or [{"key": k, "path": k} for k in data]
    for item in chosen:
        if item["key"] not in data:
            if optional:
                continue
            fail(f"key {item['key']} is missing from the object mounted at {directory}")
        path = os.path.join(directory, item["path"])
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data[item["key"]])
        os.chmod(path, item.get("mode", 0o644))


def size_option(limit):
    if not limit:
        return []
    units = {"Ki": "k", "Mi": "m", "Gi": "g", "Ti": "t"}
    for suffix, short in units.items():
        if str(limit).endswith(suffix):
            return [f"size={str(limit)[: -len(suffix)]}{short}"]
    return [f"size={limit}"]


def prepare():
    deployment = json.load(open(ARGS.deployment, encoding="utf-8"))
    pod = deployment["spec"]["template"]["spec"]
    if len(pod["containers"]) != 1 or pod.get("initContainers"):
        fail("only a pod with one container and no init containers is supported")
    container = pod["containers"][0]
    image = final_stage(ARGS.containerfile)
    state = os.path.abspath(ARGS.state)
    volumes_dir = os.path.join(state, "volumes")
    os.makedirs(volumes_dir, exist_ok=True)
    pod_security = pod.get("securityContext", {})
    security = {**pod_security, **container.get("securityContext", {})}

    # The image's files from the build stage, as they are here after `make`.
    sources = {"binary": os.path.abspath(ARGS.binary), "site": os.path.abspath(ARGS.site)}
    binds = []
    for copy in image["copies"]:
        key = SOURCES.get(copy["from"].rstrip("/"))
        if key is None:
            fail(f"the Containerfile copies {copy['from']}, which this test cannot map to a build output")
        if not os.path.exists(sources[key]):
            fail(f"{sources[key]} (the Containerfile's {copy['from']}) does not exist; run make first")
        binds.append({"source": sources[key], "target": copy["to"], "readOnly": True})

    # The environment: the image's, then Kubernetes' service variables, then the container's.
    server = urlparse(kubectl_json(["config", "view", "--minify", "--raw"])["clusters"][0]["cluster"]["server"])
    # HOME as a container runtime sets it from the image's passwd (the Containerfile's useradd).
    env = {"PATH": PATH, "HOSTNAME": f"{deployment['metadata']['name']}-0", "HOME": "/nonexistent"}
    env.update(image["env"])
    env["KUBERNETES_SERVICE_HOST"] = server.hostname
    env["KUBERNETES_SERVICE_PORT"] = str(server.port or 443)
    for var in container.get("env", []):
        if "value" in var:
            env[var["name"]] = var["value"]
            continue
        source = var.get("valueFrom", {})
        if "secretKeyRef" in source:
            ref, kind = source["secretKeyRef"], "secret"
        elif "configMapKeyRef" in source:
            ref, kind = source["configMapKeyRef"], "configmap"
        else:
            fail(f"environment variable {var['name']}: only values and Secret or ConfigMap keys are supported")
        data = object_data(kind, ref["name"])
        if ref["key"] not in data:
            fail(f"environment variable {var['name']}: {kind} {ref['name']} has no key {ref['key']}")
        env[var["name"]] = data[ref["key"]].decode()
    if container.get("envFrom"):
        fail("envFrom is not supported")

    # Volumes, as the kubelet would lay them out.
    defined = {v["name"]: v for v in pod.get("volumes", [])}
    mounts = []
    for mount in container.get("volumeMounts", []):
        volume = defined[mount["name"]]
        read_only = bool(mount.get("readOnly"))
        target = mount["mountPath"]
        if "emptyDir" in volume:
            mounts.append({"kind": "tmpfs", "target": target, "options": size_option(volume["emptyDir"].get("sizeLimit"))})
            continue
        directory = os.path.join(volumes_dir, mount["name"])
        if "secret" in volume:
            spec = volume["secret"]
            write_files(directory, object_data("secret", spec["secretName"]), spec.get("items"), spec.get("optional", False))
        elif "configMap" in volume:
            spec = volume["configMap"]
            write_files(directory, object_data("configmap", spec["name"]), spec.get("items"), spec.get("optional", False))
        elif "persistentVolumeClaim" in volume:
            # A claim is storage that outlives the pod; a directory of the test's state stands in.
            os.makedirs(directory, exist_ok=True)
            if os.geteuid() == 0 and "fsGroup" in pod_security:
                os.chown(directory, 0, pod_security["fsGroup"])
                os.chmod(directory, 0o2775)
        else:
            fail(f"volume {mount['name']}: only emptyDir, secret, configMap and persistentVolumeClaim are supported")
        binds.append({"source": directory, "target": target, "readOnly": read_only})

    # The ServiceAccount's token, the cluster's CA and the namespace, where every pod finds them.
    if pod.get("automountServiceAccountToken", True):
        account = pod.get("serviceAccountName", "default")
        token = subprocess.run(
            [ARGS.kubectl, "--kubeconfig", ARGS.kubeconfig, "--context", "admin", "-n", ARGS.namespace,
             "create", "token", account, "--duration=1h"],
            check=True, capture_output=True, text=True,
        ).stdout.strip()
        root_ca = object_data("configmap", "kube-root-ca.crt")
        directory = os.path.join(volumes_dir, "kube-api-access")
        write_files(directory, {"token": token.encode(), "ca.crt": root_ca["ca.crt"], "namespace": ARGS.namespace.encode()}, None)
        binds.append({"source": directory, "target": SA_DIR, "readOnly": True})

    user = image["user"] or "0"
    uid, _, gid = user.partition(":")
    plan = {
        "root": os.path.join(state, "root"),
        "uid": int(security.get("runAsUser", uid)),
        "gid": int(security.get("runAsGroup", gid or uid)),
        "groups": [pod_security["fsGroup"]] if "fsGroup" in pod_security else [],
        "runAsNonRoot": bool(security.get("runAsNonRoot")),
        "readOnlyRootFilesystem": bool(security.get("readOnlyRootFilesystem")),
        "workdir": container.get("workingDir") or image["workdir"],
        "argv": (container.get("command") or image["entrypoint"]) + (container.get("args") or image["cmd"]),
        "env": env,
        "binds": binds,
        "mounts": mounts,
    }
    if plan["runAsNonRoot"] and plan["uid"] == 0:
        fail("runAsNonRoot is set, but the pod would run as root")
    with open(os.path.join(state, "plan.json"), "w", encoding="utf-8") as f:
        json.dump(plan, f, indent=2)
    print(os.path.join(state, "plan.json"))


def mount(*args):
    subprocess.run(["mount", *args], check=True)


def bind(source, target, read_only, recursive=False):
    mount("--rbind" if recursive else "--bind", source, target)
    if read_only:
        mount("-o", "remount,bind,ro", target)


def make_target(path, is_dir):
    if is_dir:
        os.makedirs(path, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        open(path, "a").close()


def run(plan_file):
    plan = json.load(open(plan_file, encoding="utf-8"))
    root = plan["root"]
    os.makedirs(root, exist_ok=True)
    mount("-t", "tmpfs", "-o", "mode=0755", "tmpfs", root)

    # The base image: the host's programs and libraries, a minimal /etc.
    for top in ("bin", "sbin", "lib", "lib64"):
        host = f"/{top}"
        if os.path.islink(host):
            os.symlink(os.readlink(host), os.path.join(root, top))
        elif os.path.isdir(host):
            make_target(os.path.join(root, top), True)
            bind(host, os.path.join(root, top), True)
    for part in ("bin", "sbin", "lib", "lib64", "libexec", "share"):
        host = f"/usr/{part}"
        if os.path.isdir(host):
            make_target(os.path.join(root, "usr", part), True)
            bind(host, os.path.join(root, "usr", part), True)
    etc = os.path.join(root, "etc")
    os.makedirs(etc)
    for name in ("hosts", "resolv.conf", "nsswitch.conf"):
        if os.path.exists(f"/etc/{name}"):
            with open(f"/etc/{name}", "rb") as src, open(os.path.join(etc, name), "wb") as dst:
                dst.write(src.read())
    with open(os.path.join(etc, "passwd"), "w", encoding="utf-8") as f:
        f.write("root:x:0:0:root:/root:/usr/sbin/nologin\n")
        f.write(f"causeway:x:{plan['uid']}:{plan['gid']}::/nonexistent:/usr/sbin/nologin\n")
    with open(os.path.join(etc, "group"), "w", encoding="utf-8") as f:
        f.write(f"root:x:0:\ncauseway:x:{plan['gid']}:\n")
    if os.path.isdir("/etc/ssl"):
        make_target(os.path.join(etc, "ssl"), True)
        bind("/etc/ssl", os.path.join(etc, "ssl"), True)
    for special in ("proc", "dev"):
        make_target(os.path.join(root, special), True)
        bind(f"/{special}", os.path.join(root, special), False, recursive=True)
    # Recursively, since an unprivileged user namespace may not bind /sys without its submounts.
    make_target(os.path.join(root, "sys"), True)
    bind("/sys", os.path.join(root, "sys"), True, recursive=True)

    # The image's own files and the pod's volumes.
    for b in plan["binds"]:
        target = root + b["target"]
        make_target(target, os.path.isdir(b["source"]))
        bind(b["source"], target, b["readOnly"])
    for m in plan["mounts"]:
        target = root + m["target"]
        make_target(target, True)
        mount("-t", "tmpfs", "-o", ",".join(["mode=1777", *m["options"]]), "tmpfs", target)
    make_target(root + plan["workdir"], True)
    if plan["readOnlyRootFilesystem"]:
        mount("-o", "remount,bind,ro", root)

    os.chroot(root)
    os.chdir(plan["workdir"])
    if os.geteuid() == 0 and os.getuid() == 0 and not in_user_namespace():
        os.setgroups(plan["groups"])
        os.setgid(plan["gid"])
        os.setuid(plan["uid"])
    else:
        print("pod.py: in an unprivileged user namespace; the process keeps the caller's user", file=sys.stderr)
    # What the test is for: the process starts with nothing writable but its volumes.
    probe = os.path.join(plan["workdir"], ".causeway-write-probe")
    try:
        with open(probe, "w", encoding="utf-8"):
            pass
    except OSError as error:
        if error.errno not in (errno.EROFS, errno.EACCES):
            raise
    else:
        os.unlink(probe)
        if plan["readOnlyRootFilesystem"]:
            fail(f"the working directory {plan['workdir']} is writable")
    os.execve(plan["argv"][0], plan["argv"], plan["env"])


def in_user_namespace():
    """True inside a user namespace that maps only the caller (uid 0 there is not root here)."""
    try:
        with open("/proc/self/uid_map", encoding="utf-8") as f:
            first = f.read().split()
        return first[:3] != ["0", "0", "4294967295"]
    except OSError:
        return False


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare")
    for flag in ("deployment", "namespace", "containerfile", "binary", "site", "kubectl", "kubeconfig", "state"):
        p.add_argument(f"--{flag}", required=True)
    r = sub.add_parser("run")
    r.add_argument("plan")
    ARGS = parser.parse_args()
    if ARGS.command == "prepare":
        prepare()
    else:
        run(ARGS.plan)
