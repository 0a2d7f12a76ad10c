#!/usr/bin/env python3
"""Generates the upgrades benchmark's template, version 1 or version 2, into one directory: the
directory is the template's file location, so writing version 2 over version 1 and refreshing the
location is how a platform team publishes a new version.

    gen_template.py OUT_DIR --version 1|2 [--files 30] [--seed 42]

Writes OUT_DIR/template.yaml and OUT_DIR/skeleton/… (the old skeleton is removed first). The
template's steps are those of a service without environments: fetch:template, catalog:write,
publish:git to the embedded `local` host and catalog:register; no causeway:provision, so that no
cluster or GitOps repository is involved. The skeleton looks like a service repository: a
README, a Dockerfile, CI, configuration, Kubernetes manifests, docs, sources and migrations,
about 20 lines each, every file with `${{ values.… }}` expressions. Version 2 changes the files
listed in V2_CHANGED, adds CHANGELOG.md and deletes scripts/legacy-setup.sh; the files the
benchmark's team edits (TEAM_EDIT, CONFLICT_EDIT below) are what bench.py changes in a service's
repository.
"""
import argparse
import json
import os
import random
import shutil

TEMPLATE = "upgrade-bench"

# The file a team changes in some services' repositories, a line version 2 does not touch: the
# upgrade keeps the edit (a clean merge).
TEAM_EDIT = ("docs/runbook.md", "On call: the owning team's rotation.",
             "On call: the payments rotation, paged through the incident channel.")
# The line a team changes in a few services' repositories that version 2 also changes: a conflict.
CONFLICT_EDIT = ("config/app.toml", "request_timeout_secs = 30", "request_timeout_secs = 45")
# Version 2's change to the same line.
V2_TIMEOUT = "request_timeout_secs = 60"
# A line only version 2 has, in a file every service's repository holds unedited: a branch with it
# carries the template's change.
V2_MARK = ("Dockerfile", "FROM debian:trixie-slim")
V2_CHANGED = ["README.md", "Dockerfile", ".ci/pipeline.yaml", "config/app.toml",
              "deploy/k8s/deployment.yaml"]
V2_ADDED = ["CHANGELOG.md"]
V2_DELETED = ["scripts/legacy-setup.sh"]

WORDS = ("request order ledger account payment invoice refund customer balance queue event "
         "handler client server config metric trace retry timeout window batch record store "
         "cache index schema version release deploy health probe limit budget owner team").split()


def template_yaml():
    return {
        "apiVersion": "scaffolder.backstage.io/v1beta3",
        "kind": "Template",
        "metadata": {"name": TEMPLATE, "title": "Upgrade benchmark service",
                     "description": "A service repository without environments, for the upgrades benchmark."},
        "spec": {
            "owner": "group:default/platform",
            "type": "service",
            "parameters": [{
                "title": "About the service",
                "required": ["name", "description", "owner"],
                "properties": {
                    "name": {"type": "string", "pattern": "^[a-z][a-z0-9-]{1,38}[a-z0-9]$"},
                    "description": {"type": "string"},
                    "owner": {"type": "string"},
                    "port": {"type": "integer", "default": 8080},
                },
            }],
            "steps": [
                {"id": "fetch", "name": "Render the skeleton", "action": "fetch:template",
                 "input": {"url": "./skeleton", "values": {
                     "name": "${{ parameters.name }}", "description": "${{ parameters.description }}",
                     "owner": "${{ parameters.owner }}", "port": "${{ parameters.port }}"}}},
                {"id": "describe", "name": "Describe it for the catalog", "action": "catalog:write",
                 "input": {"entity": {
                     "apiVersion": "backstage.io/v1alpha1", "kind": "Component",
                     "metadata": {"name": "${{ parameters.name }}",
                                  "description": "${{ parameters.description }}"},
                     "spec": {"type": "service", "lifecycle": "experimental",
                              "owner": "${{ parameters.owner }}"}}}},
                {"id": "publish", "name": "Publish", "action": "publish:git",
                 "input": {"repoUrl": "local?owner=payments&repo=${{ parameters.name }}",
                           "description": "${{ parameters.description }}"}},
                {"id": "register", "name": "Register", "action": "catalog:register",
                 "input": {"repoContentsUrl": "${{ steps.publish.output.repoContentsUrl }}",
                           "catalogInfoPath": "/catalog-info.yaml"}},
            ],
            "output": {"text": [{"title": "Name", "content": "${{ parameters.name }}"}]},
        },
    }


def prose(rng, lines, comment=""):
    c = comment + " " if comment else ""
    out = []
    for _ in range(lines):
        words = [rng.choice(WORDS) for _ in range(rng.randint(7, 13))]
        out.append(c + " ".join(words).capitalize() + ".")
    return "\n".join(out) + "\n"


def named_files(v2):
    """The service's own files, as the template's skeleton holds them in version 1 or 2."""
    timeout = V2_TIMEOUT if v2 else CONFLICT_EDIT[1]
    files = {
        "README.md": (
            "# ${{ values.name }}\n\n${{ values.description }}\n\nOwned by ${{ values.owner }}.\n\n"
            "## Running it\n\n```sh\nmake run\ncurl http://127.0.0.1:${{ values.port }}/healthz\n```\n\n"
            "## Layout\n\n- `src/`: the service\n- `config/`: its configuration\n"
            "- `deploy/k8s/`: its manifests\n- `docs/`: how it works and how to run it\n"
            + ("\n## Upgrades\n\nThis repository follows the upgrade-bench template; upgrades arrive as\n"
               "branches named `causeway/upgrade-…` for the team to review and merge.\n" if v2 else "")),
        "Dockerfile": (
            "FROM rust:1.86 AS build\nWORKDIR /src\nCOPY . .\nRUN cargo build --release\n\n"
            + ("FROM debian:trixie-slim\n" if v2 else "FROM debian:bookworm-slim\n")
            + "COPY --from=build /src/target/release/${{ values.name }} /usr/local/bin/\n"
            "EXPOSE ${{ values.port }}\nUSER 65532\n"
            + ('HEALTHCHECK CMD ["/usr/local/bin/${{ values.name }}", "health"]\n' if v2 else "")
            + 'ENTRYPOINT ["/usr/local/bin/${{ values.name }}"]\n'),
        "Makefile": (
            ".PHONY: run test image\n\nrun:\n\tcargo run -- --port ${{ values.port }}\n\n"
            "test:\n\tcargo test\n\nimage:\n\tpodman build -t ${{ values.name }} .\n"),
        ".ci/pipeline.yaml": (
            "name: ${{ values.name }}\non: [push]\njobs:\n  test:\n    steps:\n"
            "      - uses: checkout\n      - run: make test\n"
            + ("  scan:\n    steps:\n      - uses: checkout\n      - run: cargo audit\n" if v2 else "")
            + "  image:\n    needs: [test]\n    steps:\n      - run: make image\n"),
        "config/app.toml": (
            "# ${{ values.name }}: ${{ values.description }}\n\n[server]\nport = ${{ values.port }}\n"
            "workers = 4\n\n\n\n[limits]\n" + timeout + "\nmax_body_bytes = 1048576\n\n\n\n"
            "[telemetry]\nservice_name = \"${{ values.name }}\"\nmetrics = true\n"),
        "config/logging.yaml": (
            "level: info\nformat: json\nfields:\n  service: ${{ values.name }}\n  team: ${{ values.owner }}\n"),
        "deploy/k8s/deployment.yaml": (
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: ${{ values.name }}\n"
            "spec:\n  replicas: 2\n  template:\n    spec:\n      containers:\n"
            "        - name: ${{ values.name }}\n          image: ${{ values.name }}:latest\n"
            "          ports:\n            - containerPort: ${{ values.port }}\n"
            "          resources:\n            requests:\n              cpu: 100m\n"
            + ("              memory: 192Mi\n" if v2 else "              memory: 128Mi\n")
            + ("          readinessProbe:\n            httpGet:\n              path: /readyz\n"
               "              port: ${{ values.port }}\n" if v2 else "")),
        "deploy/k8s/service.yaml": (
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: ${{ values.name }}\nspec:\n"
            "  selector:\n    app: ${{ values.name }}\n  ports:\n    - port: 80\n"
            "      targetPort: ${{ values.port }}\n"),
        "deploy/k8s/hpa.yaml": (
            "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n"
            "  name: ${{ values.name }}\nspec:\n  minReplicas: 2\n  maxReplicas: 6\n"),
        "docs/index.md": "# ${{ values.name }}\n\n${{ values.description }}\n\nSee the runbook.\n",
        "docs/runbook.md": (
            "# Running ${{ values.name }}\n\n## Who\n\nOwned by ${{ values.owner }}.\n"
            + TEAM_EDIT[1] + "\n\n## Alerts\n\n- Error rate above 1% for 5 minutes.\n"
            "- Latency p99 above 500 ms for 10 minutes.\n\n## Restarting\n\n"
            "```sh\nkubectl rollout restart deployment/${{ values.name }}\n```\n"),
        "src/main.rs": (
            "//! ${{ values.name }}: ${{ values.description }}\n\nmod config;\nmod handlers;\n\n"
            "fn main() {\n    let config = config::load();\n"
            "    println!(\"${{ values.name }} listening on {}\", config.port);\n"
            "    handlers::serve(config);\n}\n"),
        "src/config.rs": (
            "pub struct Config {\n    pub port: u16,\n}\n\npub fn load() -> Config {\n"
            "    Config { port: ${{ values.port }} }\n}\n"),
        "src/handlers.rs": (
            "use crate::config::Config;\n\npub fn serve(config: Config) {\n"
            "    let _ = config.port;\n}\n\npub fn health() -> &'static str {\n    \"ok\"\n}\n"),
    }
    if v2:
        files["CHANGELOG.md"] = ("# Changes to ${{ values.name }}\n\n"
                                 "- Follows version 2 of the upgrade-bench template.\n")
    else:
        files["scripts/legacy-setup.sh"] = (
            "#!/bin/sh\n# Sets ${{ values.name }} up the old way; replaced by make run.\n"
            "set -eu\necho \"setting up ${{ values.name }}\"\n")
    return files


def filler(rng, count):
    """Files neither version changes: guides, modules and migrations, to make a realistic skeleton."""
    out = {}
    i = 0
    while len(out) < count:
        i += 1
        stem = f"{rng.choice(WORDS)}_{rng.choice(WORDS)}_{i}"
        kind = i % 3
        if kind == 0:
            out[f"docs/guides/{stem}.md"] = (
                f"# {stem.replace('_', ' ').capitalize()} in ${{{{ values.name }}}}\n\n"
                + prose(rng, rng.randint(12, 24)))
        elif kind == 1:
            out[f"src/modules/{stem}.rs"] = (
                f"//! {stem} for ${{{{ values.name }}}}.\n\n" + prose(rng, rng.randint(6, 12), "//")
                + f"\npub fn {stem}(input: &str) -> String {{\n"
                f"    format!(\"${{{{ values.name }}}}: {{}}\", input)\n}}\n")
        else:
            out[f"migrations/{i:04d}_{stem}.sql"] = (
                f"-- {stem} for ${{{{ values.name }}}}\n" + prose(rng, rng.randint(4, 8), "--")
                + f"CREATE TABLE {stem} (\n    id BIGINT PRIMARY KEY,\n    body TEXT NOT NULL\n);\n")
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--version", type=int, choices=(1, 2), required=True)
    ap.add_argument("--files", type=int, default=30)
    ap.add_argument("--seed", type=int, default=42)
    a = ap.parse_args()
    named = named_files(a.version == 2)
    # The same seed gives both versions the same filler; its count is fixed by version 1's files,
    # so version 2 (one file added, one deleted) has as many.
    files = {**named, **filler(random.Random(a.seed), max(0, a.files - len(named_files(False))))}
    skeleton = os.path.join(a.out, "skeleton")
    shutil.rmtree(skeleton, ignore_errors=True)
    for path, text in files.items():
        full = os.path.join(skeleton, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            f.write(text)
        if path.endswith(".sh"):
            os.chmod(full, 0o755)
    with open(os.path.join(a.out, "template.yaml"), "w") as f:
        json.dump(template_yaml(), f, indent=1)  # JSON is YAML
    print(json.dumps({"version": a.version, "files": len(files),
                      "lines": sum(t.count("\n") for t in files.values()),
                      "bytes": sum(len(t.encode()) for t in files.values())}))


if __name__ == "__main__":
    main()
