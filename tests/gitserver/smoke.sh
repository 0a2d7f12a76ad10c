#!/usr/bin/env bash
# Checks the test git server end to end with the real `git` program: creates a repository in the
# organisation through the REST API, pushes a commit over HTTP with the admin's token as the
# password, clones it back anonymously, and checks the file, the author and the commit, then that
# Gitea saw the push (the branch's head in the API) and that a user outside the organisation may
# not push to a branch. The repository is deleted afterwards.
#
#   tests/gitserver/smoke.sh      starts a Gitea of its own (tests/scripts/with-gitea.sh)
#   GITEA_URL=... GITEA_TOKEN=... ... tests/gitserver/smoke.sh   uses a running one
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [[ -z "${GITEA_URL:-}" ]]; then
    exec "$here/../scripts/with-gitea.sh" "$here/smoke.sh"
fi
: "${GITEA_TOKEN:?}" "${GITEA_ADMIN_USER:?}" "${GITEA_USER:?}" "${GITEA_USER_PASSWORD:?}"
org=${GITEA_ORG:-golden}

fail() { echo "smoke: FAILED: $*" >&2; exit 1; }
api() { curl -sS -H "Authorization: token $GITEA_TOKEN" -H 'Content-Type: application/json' "$@"; }
# http://USER:SECRET@host:port/PATH, for git.
url_as() { echo "${GITEA_URL/#http:\/\//http://$1:$2@}/$3"; }

work=$(mktemp -d)
repo="smoke-$(date +%s)-$RANDOM"
cleanup() {
    api -o /dev/null -X DELETE "$GITEA_URL/api/v1/repos/$org/$repo" || true
    rm -rf "$work"
}
trap cleanup EXIT

# No user or system git configuration (credential helpers, URL rewrites), and never a prompt.
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1 GIT_TERMINAL_PROMPT=0
export GIT_AUTHOR_NAME='Causeway Smoke' GIT_AUTHOR_EMAIL='smoke@causeway.invalid'
export GIT_COMMITTER_NAME='Causeway Smoke' GIT_COMMITTER_EMAIL='smoke@causeway.invalid'

status=$(api -o "$work/create.json" -w '%{http_code}' -X POST "$GITEA_URL/api/v1/orgs/$org/repos" \
    -d "{\"name\": \"$repo\", \"private\": false, \"auto_init\": false, \"default_branch\": \"main\"}")
[[ $status == 201 ]] || fail "creating $org/$repo answered $status: $(cat "$work/create.json")"
echo "smoke: created $org/$repo" >&2

git init -q -b main "$work/src"
printf 'Hello from Causeway.\n' >"$work/src/README.md"
git -C "$work/src" add README.md
git -C "$work/src" commit -q -m 'Add README'
pushed=$(git -C "$work/src" rev-parse HEAD)
git -C "$work/src" push -q "$(url_as "$GITEA_ADMIN_USER" "$GITEA_TOKEN" "$org/$repo.git")" main \
    || fail "pushing with the admin's token"
echo "smoke: pushed $pushed" >&2

# Anonymously: the server lets anyone read public repositories.
git clone -q "$GITEA_URL/$org/$repo.git" "$work/clone" || fail "cloning anonymously"
[[ "$(cat "$work/clone/README.md")" == 'Hello from Causeway.' ]] || fail "README.md differs in the clone"
author=$(git -C "$work/clone" log -1 --format='%an <%ae>')
[[ $author == 'Causeway Smoke <smoke@causeway.invalid>' ]] || fail "author is '$author'"
[[ "$(git -C "$work/clone" rev-parse HEAD)" == "$pushed" ]] || fail "the clone's HEAD is not the pushed commit"
echo "smoke: cloned it back: README.md and author '$author' as pushed" >&2

# Gitea's hooks recorded the push: the API knows the branch and its head. Gitea updates its
# database from a push through a queue, after the push has returned; until then the API treats the
# repository as empty (1.24.6 even answers 500, a nil pointer, for its branch), so this polls.
head=""
for _ in $(seq 50); do
    if head=$(api -f "$GITEA_URL/api/v1/repos/$org/$repo/branches/main" 2>/dev/null |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["commit"]["id"])' 2>/dev/null); then
        break
    fi
    head=""
    sleep 0.2
done
[[ -n $head ]] || fail "the API did not report branch main within 10s of the push"
[[ $head == "$pushed" ]] || fail "the API's head of main is '$head'"
content=$(api "$GITEA_URL/api/v1/repos/$org/$repo/raw/README.md?ref=main")
[[ $content == 'Hello from Causeway.' ]] || fail "the API's README.md is '$content'"
echo "smoke: the API reports main at $head" >&2

# A user who is not in the organisation may read but not write. Gitea lets any reader open a push
# (readers may push to refs/for/* to propose changes) and refuses a branch in its pre-receive hook.
git -C "$work/src" commit -q --allow-empty -m 'Not allowed'
if git -C "$work/src" push -q "$(url_as "$GITEA_USER" "$GITEA_USER_PASSWORD" "$org/$repo.git")" main \
    2>"$work/denied.log"; then
    fail "$GITEA_USER, outside the organisation, could push"
fi
grep -q 'User permission denied for writing' "$work/denied.log" \
    || fail "the refused push gave another reason: $(cat "$work/denied.log")"
remote_head=$(git ls-remote "$GITEA_URL/$org/$repo.git" refs/heads/main | cut -f1)
[[ $remote_head == "$pushed" ]] || fail "main moved to '$remote_head' after a refused push"
echo "smoke: $GITEA_USER's push was refused (User permission denied for writing); main unchanged" >&2

echo "smoke: passed" >&2
