//! The delivery pipeline of a service: Tekton `tekton.dev/v1` Tasks for clone, test, build and
//! deploy, the Pipeline that runs them in order, and the PipelineRun a change would start.

use serde::Serialize;

/// `metadata` + `spec` of a Tekton object; the envelope is added by [`super::bundle`].
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskSpec {
    pub params: Vec<ParamSpec>,
    pub workspaces: Vec<WorkspaceDeclaration>,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ParamSpec {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub description: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct WorkspaceDeclaration {
    pub name: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    pub name: String,
    pub image: String,
    pub working_dir: String,
    pub script: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PipelineSpec {
    pub params: Vec<ParamSpec>,
    pub workspaces: Vec<WorkspaceDeclaration>,
    pub tasks: Vec<PipelineTask>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PipelineTask {
    pub name: String,
    pub task_ref: TaskRef,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub run_after: Vec<String>,
    pub params: Vec<Param>,
    pub workspaces: Vec<WorkspaceBinding>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TaskRef {
    pub name: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Param {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct WorkspaceBinding {
    pub name: String,
    pub workspace: String,
}

/// What the pipeline is built for.
#[derive(Debug, Clone)]
pub struct Source {
    /// Clone URL of the repository, from the component's annotations.
    pub repository: String,
    /// The image the build pushes and the deploy rolls out.
    pub image: String,
    pub namespace: String,
    pub service: String,
}

fn param(name: &str, description: &str) -> ParamSpec {
    ParamSpec {
        name: name.to_owned(),
        kind: "string",
        description: description.to_owned(),
    }
}

fn workspace() -> Vec<WorkspaceDeclaration> {
    vec![WorkspaceDeclaration {
        name: "source".to_owned(),
    }]
}

/// The four Tasks, by name.
pub fn tasks() -> Vec<(String, TaskSpec)> {
    let step = |name: &str, image: &str, script: &str| Step {
        name: name.to_owned(),
        image: image.to_owned(),
        working_dir: "$(workspaces.source.path)".to_owned(),
        script: script.to_owned(),
    };
    vec![
        (
            "clone".to_owned(),
            TaskSpec {
                params: vec![
                    param("repository", "Git URL"),
                    param("revision", "Commit, branch or tag"),
                ],
                workspaces: workspace(),
                steps: vec![step(
                    "clone",
                    "alpine/git:2.45.2",
                    "git clone --depth 1 --branch \"$(params.revision)\" \"$(params.repository)\" . \
                     || { git init -q . && git fetch --depth 1 \"$(params.repository)\" \"$(params.revision)\" && git checkout FETCH_HEAD; }",
                )],
            },
        ),
        (
            "test".to_owned(),
            TaskSpec {
                params: Vec::new(),
                workspaces: workspace(),
                steps: vec![step(
                    "test",
                    "docker.io/library/buildpack-deps:bookworm",
                    "if [ -x ./ci/test ]; then ./ci/test; elif [ -f Makefile ]; then make test; else echo 'no ci/test or Makefile: nothing to test'; fi",
                )],
            },
        ),
        (
            "build".to_owned(),
            TaskSpec {
                params: vec![param("image", "Image to build and push")],
                workspaces: workspace(),
                steps: vec![step(
                    "build",
                    "gcr.io/kaniko-project/executor:v1.23.2-debug",
                    "/kaniko/executor --context=. --destination=\"$(params.image)\"",
                )],
            },
        ),
        (
            "deploy".to_owned(),
            TaskSpec {
                params: vec![
                    param("image", "Image to roll out"),
                    param("service", "Deployment name"),
                ],
                workspaces: workspace(),
                steps: vec![step(
                    "deploy",
                    "docker.io/bitnami/kubectl:1.34",
                    "kubectl set image \"deployment/$(params.service)\" \"$(params.service)=$(params.image)\" \
                     && kubectl rollout status \"deployment/$(params.service)\" --timeout=5m",
                )],
            },
        ),
    ]
}

/// The Pipeline: clone, then test, then build, then deploy, sharing one workspace.
pub fn pipeline() -> PipelineSpec {
    let task = |name: &str, after: Option<&str>, params: &[(&str, &str)]| PipelineTask {
        name: name.to_owned(),
        task_ref: TaskRef {
            name: name.to_owned(),
        },
        run_after: after.into_iter().map(str::to_owned).collect(),
        params: params
            .iter()
            .map(|(n, v)| Param {
                name: (*n).to_owned(),
                value: (*v).to_owned(),
            })
            .collect(),
        workspaces: vec![WorkspaceBinding {
            name: "source".to_owned(),
            workspace: "source".to_owned(),
        }],
    };
    PipelineSpec {
        params: vec![
            param("repository", "Git URL"),
            param("revision", "Commit, branch or tag"),
            param("image", "Image to build and roll out"),
            param("service", "Deployment name"),
        ],
        workspaces: workspace(),
        tasks: vec![
            task(
                "clone",
                None,
                &[
                    ("repository", "$(params.repository)"),
                    ("revision", "$(params.revision)"),
                ],
            ),
            task("test", Some("clone"), &[]),
            task("build", Some("test"), &[("image", "$(params.image)")]),
            task(
                "deploy",
                Some("build"),
                &[
                    ("image", "$(params.image)"),
                    ("service", "$(params.service)"),
                ],
            ),
        ],
    }
}

/// The PipelineRun a change to `revision` would start (shown in plans; Causeway does not start
/// runs on its own).
pub fn run(source: &Source, revision: &str) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "tekton.dev/v1",
        "kind": "PipelineRun",
        "metadata": { "generateName": format!("{}-", source.service), "namespace": source.namespace },
        "spec": {
            "pipelineRef": { "name": "delivery" },
            "taskRunTemplate": { "serviceAccountName": "ci-deployer" },
            "params": [
                { "name": "repository", "value": source.repository },
                { "name": "revision", "value": revision },
                { "name": "image", "value": source.image },
                { "name": "service", "value": source.service },
            ],
            "workspaces": [{
                "name": "source",
                "volumeClaimTemplate": { "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "resources": { "requests": { "storage": "1Gi" } },
                } },
            }],
        },
    })
}

/// The clone URL a component's annotations give: `github.com/project-slug`, else a
/// `backstage.io/source-location` of the form `url:<git URL>`.
pub fn repository(annotations: &serde_json::Map<String, serde_json::Value>) -> Option<String> {
    if let Some(slug) = annotations
        .get("github.com/project-slug")
        .and_then(serde_json::Value::as_str)
        .filter(|s| s.split('/').count() == 2 && !s.contains(char::is_whitespace))
    {
        return Some(format!("https://github.com/{slug}.git"));
    }
    annotations
        .get("backstage.io/source-location")
        .and_then(serde_json::Value::as_str)
        .and_then(|l| l.strip_prefix("url:"))
        .map(|url| url.trim_end_matches('/').to_owned())
        .filter(|url| url.starts_with("https://") || url.starts_with("http://"))
}
