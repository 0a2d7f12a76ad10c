#!/usr/bin/env python3
"""Generates the templates benchmark's template: a `kind: Template` with one `fetch:template`
step over a skeleton of FILES text files (default 200), and the dry-run request that both systems
receive (`POST /api/scaffolder/v2/dry-run`: the template, the values and `directoryContents`).

    gen_template.py OUT_DIR [--files 200] [--seed 42]

Writes OUT_DIR/template.yaml, OUT_DIR/skeleton/… and OUT_DIR/dry-run.json. The skeleton looks
like a service repository: sources in three languages, docs, manifests, CI and config files in
directories up to four deep, most 1–6 KB. Every file holds `${{ values.x }}` expressions (some
with filters); about one in six has `{% if %}` blocks and one in nine a `{% for %}` loop. Some
file and directory names are expressions (`${{ values.name }}`), and the language-specific
files are named `{% if values.language == "…" %}name{% endif %}`, so that only the chosen
language's render (the others' names render empty and are skipped).
"""
import argparse
import base64
import json
import os
import random

WORDS = ("request order ledger account payment invoice refund customer balance queue event "
         "handler client server config metric trace retry timeout window batch record store "
         "cache index schema version release deploy health probe limit budget owner team").split()
LANGS = ("rust", "go", "python")
EXT = {"rust": "rs", "go": "go", "python": "py"}

VALUES = {
    "name": "${{ parameters.name }}",
    "description": "${{ parameters.description }}",
    "owner": "${{ parameters.owner }}",
    "language": "${{ parameters.language }}",
    "port": "${{ parameters.port }}",
    "metrics": "${{ parameters.metrics }}",
    "tags": "${{ parameters.tags }}",
}
ANSWERS = {"name": "ledger-sync", "description": "Keeps the ledger in step with the bank.",
           "owner": "group:default/payments", "language": "go", "port": 8080, "metrics": True,
           "tags": ["payments", "batch", "go"]}


def sentence(rng, n=12):
    words = [rng.choice(WORDS) for _ in range(n)]
    return " ".join(words).capitalize() + "."


def paragraph(rng, lines=4):
    return "\n".join(sentence(rng, rng.randint(8, 16)) for _ in range(lines))


def if_block(rng):
    """A conditional section, in one of the shapes real skeletons use."""
    shape = rng.randrange(3)
    if shape == 0:
        return ("{% if values.metrics %}\n" + paragraph(rng, 2) +
                "\nmetrics: http://0.0.0.0:${{ values.port }}/metrics\n{% else %}\n"
                "metrics: disabled\n{% endif %}\n")
    if shape == 1:
        lang = rng.choice(LANGS)
        return (f'{{% if values.language == "{lang}" %}}\n' + paragraph(rng, 2) +
                f"\n{{% elif values.language == \"{rng.choice(LANGS)}\" %}}\n" + paragraph(rng, 1) +
                "\n{% endif %}\n")
    return ("{% for tag in values.tags %}\n- ${{ tag }}: " + sentence(rng, 6) + "\n{% endfor %}\n")


def body(rng, comment, size):
    """Text of about `size` bytes: prose with expressions, and sometimes conditionals; each line
    starts with `comment` (none for Markdown)."""
    c = comment + " " if comment else ""
    out = [f"{c}${{{{ values.name }}}}: ${{{{ values.description }}}}\n",
           f"{c}Owned by ${{{{ values.owner }}}}.\n\n"]
    conditional = rng.random() < 0.35
    while sum(map(len, out)) < size:
        pick = rng.random()
        if pick < 0.15:
            out.append(f"{c}service ${{{{ values.name | upper }}}} on port ${{{{ values.port }}}}\n")
        elif pick < 0.25:
            out.append(f'{c}module ${{{{ values.name | replace("-", "_") }}}}\n')
        elif pick < 0.32 and conditional:
            out.append(if_block(rng))
        else:
            out.extend(f"{c}{line}\n" for line in paragraph(rng, 3).splitlines())
    return "".join(out)


def source(rng, lang, size):
    c = "#" if lang == "python" else "//"
    head = body(rng, c, size // 3)
    fn = rng.choice(WORDS) + "_" + rng.choice(WORDS)
    if lang == "rust":
        code = (f'pub const SERVICE: &str = "${{{{ values.name }}}}";\n\npub fn {fn}(input: &str) -> String {{\n'
                f'    format!("{{}}: {{}}", SERVICE, input)\n}}\n')
    elif lang == "go":
        code = (f'package ${{{{ values.name | replace("-", "") }}}}\n\nconst Service = "${{{{ values.name }}}}"\n\n'
                f'func {fn}(input string) string {{\n\treturn Service + ": " + input\n}}\n')
    else:
        code = (f'SERVICE = "${{{{ values.name }}}}"\n\n\ndef {fn}(value: str) -> str:\n'
                f'    return f"{{SERVICE}}: {{value}}"\n')
    return head + "\n" + code + body(rng, c, size - len(head) - len(code))


def manifest(rng, size):
    head = ("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: ${{ values.name }}\n"
            "  labels:\n    app.kubernetes.io/name: ${{ values.name }}\n"
            "    backstage.io/owner: ${{ values.owner | replace(\"group:default/\", \"\") }}\n"
            "spec:\n  replicas: 2\n  template:\n    spec:\n      containers:\n"
            "        - name: ${{ values.name }}\n          ports:\n            - containerPort: ${{ values.port }}\n")
    return head + body(rng, "#", size - len(head))


def files(count, rng):
    """(path, text) pairs: `count` files, of which a few render empty names for other languages."""
    dirs = ["docs", "docs/guides", "docs/reference/api", "deploy/k8s/base", "deploy/k8s/overlays/dev",
            ".ci", "config", "migrations", "scripts", "${{ values.name }}/handlers",
            "${{ values.name }}/store/queries", "tests/integration/${{ values.name }}"]
    out = [("README.md", "# ${{ values.name }}\n\n${{ values.description }}\n\n" + body(rng, "", 1500)),
           ("catalog-info.yaml",
            "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: ${{ values.name }}\n"
            "  description: ${{ values.description }}\n  tags:\n{% for tag in values.tags %}"
            "    - ${{ tag }}\n{% endfor %}spec:\n  type: service\n  lifecycle: experimental\n"
            "  owner: ${{ values.owner }}\n")]
    i = 0
    while len(out) < count:
        i += 1
        size = rng.randint(1000, 6000)
        stem = f"{rng.choice(WORDS)}_{rng.choice(WORDS)}_{i}"
        kind = rng.random()
        if kind < 0.3:  # a source file in each language, named for it only
            lang = LANGS[i % 3]
            d = rng.choice(["src", "src/" + rng.choice(WORDS), "${{ values.name }}/handlers"])
            name = f'{{% if values.language == "{lang}" %}}{stem}.{EXT[lang]}{{% endif %}}'
            out.append((f"{d}/{name}", source(rng, lang, size)))
        elif kind < 0.45:
            out.append((f"docs/{rng.choice(['', 'guides/', 'reference/api/'])}{stem}.md",
                        f"# {sentence(rng, 4)[:-1]} in ${{{{ values.name }}}}\n\n" + body(rng, "", size)))
        elif kind < 0.6:
            d = rng.choice(["deploy/k8s/base", "deploy/k8s/overlays/dev"])
            out.append((f"{d}/{stem}.yaml", manifest(rng, size)))
        elif kind < 0.7:  # a templated file name
            out.append((f"config/${{{{ values.name }}}}-{stem}.yaml", body(rng, "#", size)))
        else:
            d = rng.choice(dirs)
            ext = rng.choice(["yaml", "toml", "sh", "sql", "txt", "json.tmpl"])
            comment = "--" if ext == "sql" else "#"
            out.append((f"{d}/{stem}.{ext}", body(rng, comment, size)))
    return out


def template(n):
    return {
        "apiVersion": "scaffolder.backstage.io/v1beta3",
        "kind": "Template",
        "metadata": {"name": "bench-service", "title": f"Benchmark service ({n} files)"},
        "spec": {
            "owner": "group:default/platform",
            "type": "service",
            "parameters": [{
                "title": "About the service",
                "required": ["name", "description", "owner", "language"],
                "properties": {
                    "name": {"type": "string", "pattern": "^[a-z][a-z0-9-]{1,38}[a-z0-9]$"},
                    "description": {"type": "string"},
                    "owner": {"type": "string"},
                    "language": {"type": "string", "enum": list(LANGS)},
                    "port": {"type": "integer", "default": 8080},
                    "metrics": {"type": "boolean", "default": True},
                    "tags": {"type": "array", "items": {"type": "string"}},
                },
            }],
            "steps": [{"id": "fetch", "name": "Render the skeleton", "action": "fetch:template",
                       "input": {"url": "./skeleton", "values": VALUES}}],
            "output": {"text": [{"title": "Name", "content": "${{ parameters.name }}"}]},
        },
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--files", type=int, default=200)
    ap.add_argument("--seed", type=int, default=42)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    skeleton = files(a.files, rng)
    tpl = template(a.files)
    for path, text in skeleton:
        full = os.path.join(a.out, "skeleton", path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            f.write(text)
    with open(os.path.join(a.out, "template.yaml"), "w") as f:
        json.dump(tpl, f, indent=1)  # JSON is YAML
    request = {
        "template": tpl,
        "values": ANSWERS,
        "secrets": {},
        "directoryContents": [
            {"path": f"skeleton/{path}", "base64Content": base64.b64encode(text.encode()).decode()}
            for path, text in skeleton],
    }
    with open(os.path.join(a.out, "dry-run.json"), "w") as f:
        json.dump(request, f)
    size = sum(len(t.encode()) for _, t in skeleton)
    print(json.dumps({"files": len(skeleton), "bytes": size,
                      "request_bytes": os.path.getsize(os.path.join(a.out, "dry-run.json"))}))


if __name__ == "__main__":
    main()
