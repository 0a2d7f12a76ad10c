"""Causeway's rows after the latency rows: writes to a catalog already loaded (registering and
refreshing a one-entity location, refreshing a generated part in which one entity changed), the
first queries that follow a write, and a restart on the same database.

They run after every latency row and portal page, so those answers and totals are untouched.
"""
import json
import os
import re
import statistics
import urllib.parse

from support import Client, Server, now, proc_status, wait_ready

REFRESH_NAME = "bench-refresh"
REFRESH_REF = f"component:default/{REFRESH_NAME}"
# The first sorted page the issue names: every Component by name, which needs the whole order.
SORTED = ("/api/catalog/entities/by-query?filter=kind=component"
          "&orderField=metadata.name,asc&limit=50")


def small_location(path, owner, round_no):
    """Writes the one-entity location with a description that names the round."""
    with open(path, "w") as f:
        f.write("apiVersion: backstage.io/v1alpha1\nkind: Component\n"
                f"metadata:\n  name: {REFRESH_NAME}\n"
                f"  description: \"Benchmark refresh round {round_no}\"\n"
                f"spec:\n  type: service\n  lifecycle: experimental\n  owner: {owner}\n")
    return f"Benchmark refresh round {round_no}"


def copy_part(source, workdir):
    """Copies the last generated part into the workdir, where it can be edited, and names the
    first Component in it with a description (the entity whose description the rows change)."""
    target = os.path.join(workdir, "bench-part-" + os.path.basename(source))
    with open(source, encoding="utf-8") as f:
        text = f.read()
    with open(target, "w", encoding="utf-8") as f:
        f.write(text)
    for doc in text.split("\n---\n"):
        name = re.search(r'^  name: "?([^"\n]+)"?$', doc, re.M)
        if re.search(r"^kind: Component$", doc, re.M) and name and \
                re.search(r"^  description: ", doc, re.M):
            return target, name.group(1)
    raise RuntimeError(f"no Component with a description in {source}")


def edit_part(path, name, description):
    """Replaces the description of entity `name` in the copied part, and only that one."""
    with open(path, encoding="utf-8") as f:
        docs = f.read().split("\n---\n")
    for i, doc in enumerate(docs):
        if re.search(rf'^  name: "?{re.escape(name)}"?$', doc, re.M):
            docs[i] = re.sub(r"^  description: .*$", f'  description: "{description}"', doc,
                             count=1, flags=re.M)
            break
    else:
        raise RuntimeError(f"no entity {name} in {path}")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n---\n".join(docs))


def timed(client, method, path, body=None, want=200):
    t = now()
    st, out, _ = client.request(method, path, body, timeout=3600)
    ms = round((now() - t) * 1000, 2)
    if st != want:
        raise RuntimeError(f"{method} {path} -> {st}: {out[:500]!r}")
    return ms, out


def served_description(client, ref):
    kind, rest = ref.split(":", 1)
    namespace, name = rest.split("/", 1)
    doc = client.json(f"/api/catalog/entities/by-name/{kind}/{namespace}/{name}")
    return doc.get("metadata", {}).get("description")


def refresh(client, ref):
    return timed(client, "POST", "/api/catalog/refresh", json.dumps({"entityRef": ref}))[0]


def refresh_rows(port, token, portal, exp, workdir, part, part_entity, owner, res):
    """The refresh rows. `part` is the copied part the import registered, `part_entity` the
    name of the Component in it whose description changes, `owner` an existing group that owns
    the one-entity location's Component, `portal` a signed-in page client."""
    c = Client(port, {"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    small = os.path.join(workdir, "bench-refresh.yaml")
    small_location(small, owner, 0)
    res["register_small_ms"] = timed(c, "POST", "/api/catalog/locations",
                                     json.dumps({"type": "file", "target": small}), want=201)[0]
    each = []
    for round_no in range(1, 6):
        want = small_location(small, owner, round_no)
        each.append(refresh(c, REFRESH_REF))
        got = served_description(c, REFRESH_REF)
        if got != want:
            raise RuntimeError(f"after refresh {round_no}, {REFRESH_REF} serves {got!r}, not {want!r}")
    res["refresh_small_ms"] = {"p50": round(statistics.median(each), 2), "max": max(each),
                               "each": each}

    # A write, then one of the first queries after it: each query follows its own refresh, so
    # that none of them finds what another rebuilt.
    ref = f"component:default/{part_entity}"
    term = exp["search_terms"][0]
    fulltext = (f"/api/catalog/entities/by-query?filter=kind=component"
                f"&fullTextFilterTerm={urllib.parse.quote(term)}"
                "&fullTextFilterFields=metadata.name,metadata.title,metadata.description"
                "&orderField=metadata.name,asc&limit=50")
    firsts = [("first_sorted_after_write_ms", c, SORTED),
              ("first_fulltext_after_write_ms", c, fulltext),
              ("first_catalog_after_write_ms", portal, "/catalog")]
    part_each = []
    for i, (key, client, path) in enumerate(firsts, start=1):
        want = f"Benchmark part refresh round {i}"
        edit_part(part, part_entity, want)
        part_each.append(refresh(c, ref))
        res[key] = timed(client, "GET", path)[0]
        got = served_description(c, ref)
        if got != want:
            raise RuntimeError(f"after a refresh of {part}, {ref} serves {got!r}, not {want!r}")
    res["refresh_part_ms"] = part_each[0]
    res["refresh_part_each_ms"] = part_each


def restart(server, spawn, client, res, limit=600):
    """SIGTERMs `server`, starts a new one on the same database with `spawn()` (which the
    caller stops), and records how long it takes to be ready, its memory then, and whether it
    serves the same total."""
    before = client.json("/api/catalog/entities/by-query?limit=0")["totalItems"]
    t = now()
    rc = server.stop()
    res["stop_s"] = round(now() - t, 3)
    res["stop_rc"] = rc
    t0 = now()
    fresh = spawn()
    res["restart_pid"] = fresh.pid
    res["restart_ready_s"] = round(wait_ready(fresh, client, "/readyz", t0, limit) - t0, 3)
    st = proc_status(fresh.pid)
    res["rss_at_restart_ready_mib"] = st.get("VmRSS")
    res["hwm_restart_mib"] = st.get("VmHWM")
    after = client.json("/api/catalog/entities/by-query?limit=0")["totalItems"]
    res["restart_total_ok"] = after == before
    if after != before:
        raise RuntimeError(f"after a restart the catalog holds {after} entities, not {before}")
