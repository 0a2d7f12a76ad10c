//! The task runner on SQLite and on PostgreSQL: steps in order, retries of transient failures,
//! takeover of a task whose worker stopped (and that worker kept from writing), cancellation
//! between steps, and workers competing for tasks without ever claiming one twice.

#[macro_use]
#[path = "support/engines.rs"]
mod engines;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use causeway_platform::Store;
use causeway_platform::tasks::runner::{Context, Handler, Runner, Settings, StepError};
use causeway_platform::tasks::{NewTask, TaskStatus, Tasks};
use futures::future::BoxFuture;
use serde_json::json;

/// A handler that records which worker ran which step, fails as `input.fail` says, and can be
/// held inside a step until released.
#[derive(Default)]
struct Recorder {
    runs: Mutex<Vec<(String, String, String)>>,
    attempts: Mutex<BTreeMap<(String, String), usize>>,
    hold: tokio::sync::Notify,
    held: AtomicUsize,
}

impl Handler for Recorder {
    fn run_step<'a>(
        &'a self,
        context: &'a Context,
        step: &'a str,
    ) -> BoxFuture<'a, Result<(), StepError>> {
        Box::pin(async move {
            let key = (context.id.clone(), step.to_owned());
            let attempt = {
                let mut attempts = self.attempts.lock().expect("lock");
                let n = attempts.entry(key).or_default();
                *n += 1;
                *n
            };
            let fail = &context.input["fail"];
            if fail["step"] == step {
                let transient = fail["transient"].as_bool().unwrap_or(false);
                let times = fail["times"].as_u64().unwrap_or(u64::MAX) as usize;
                if attempt <= times {
                    return Err(if transient {
                        StepError::transient("the cluster did not answer")
                    } else {
                        StepError::permanent("the request is wrong")
                    });
                }
            }
            if context.input["hold"] == step {
                self.held.fetch_add(1, Ordering::SeqCst);
                self.hold.notified().await;
            }
            context.log(step, format!("ran {step}")).await;
            self.runs.lock().expect("lock").push((
                context.id.clone(),
                step.to_owned(),
                context.input["worker"].to_string(),
            ));
            Ok(())
        })
    }

    fn finished<'a>(
        &'a self,
        context: &'a Context,
        status: TaskStatus,
        _error: Option<&'a str>,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            if status == TaskStatus::Completed {
                context.set_output(json!({ "done": true }));
            }
        })
    }
}

fn settings(lease: Duration) -> Settings {
    Settings {
        lease,
        concurrency: 2,
        poll: Duration::from_millis(50),
        step_attempts: 4,
        backoff: Duration::from_millis(20),
        task_attempts: 5,
    }
}

fn runner(tasks: &Tasks, handler: Arc<Recorder>, worker: &str, lease: Duration) -> Runner {
    Runner::new(
        tasks.clone(),
        BTreeMap::from([("test".to_owned(), handler as Arc<dyn Handler>)]),
        worker.to_owned(),
        settings(lease),
    )
}

async fn tasks_on(store: Store) -> Tasks {
    store.migrate().await.expect("migrate");
    Tasks::new(store)
}

async fn submit(tasks: &Tasks, input: serde_json::Value) -> String {
    tasks
        .create(NewTask {
            kind: "test".to_owned(),
            title: "A test task".to_owned(),
            input,
            requester: "user:default/ada".to_owned(),
            owner: Some("group:default/payments".to_owned()),
            subject: None,
            steps: ["a", "b", "c"]
                .iter()
                .map(|s| ((*s).to_owned(), format!("Step {s}")))
                .collect(),
        })
        .await
        .expect("create")
        .id
}

on_both_engines!(
    steps_run_in_order_and_transient_failures_are_retried,
    a_permanent_failure_fails_the_task_at_its_step,
    an_expired_lease_is_taken_over_and_the_old_worker_is_shut_out,
    cancellation_is_honoured_between_steps,
    competing_workers_never_claim_a_task_twice,
    one_unfinished_task_per_subject,
    a_worker_claims_only_the_kinds_it_runs,
    a_stopped_runner_finishes_its_tasks_and_claims_no_more,
);

async fn steps_run_in_order_and_transient_failures_are_retried(store: Store) {
    let tasks = tasks_on(store).await;
    let handler = Arc::new(Recorder::default());
    let id = submit(
        &tasks,
        json!({ "fail": { "step": "b", "transient": true, "times": 2 } }),
    )
    .await;
    let ran = runner(&tasks, handler.clone(), "w1", Duration::from_secs(10))
        .drain()
        .await
        .expect("drain");
    assert_eq!(ran, 1);
    let task = tasks.get(&id).await.expect("get").expect("task");
    assert_eq!(task.status, TaskStatus::Completed, "{task:?}");
    assert_eq!(task.output, Some(json!({ "done": true })));
    let attempts: Vec<i64> = task.steps.iter().map(|s| s.attempts).collect();
    assert_eq!(attempts, [1, 3, 1], "b failed twice, then succeeded");
    assert!(
        task.steps
            .iter()
            .all(|s| s.status == "completed" && s.finished_at_millis.is_some())
    );
    let events = tasks.events(&id, 0, 100).await.expect("events");
    let ids: Vec<i64> = events.iter().map(|e| e.id).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
    let retries: Vec<&str> = events
        .iter()
        .filter(|e| e.level == "warn" && e.message.contains("retrying in"))
        .map(|e| e.message.as_str())
        .collect();
    assert_eq!(retries.len(), 2, "{retries:?}");
    let order: Vec<&str> = events
        .iter()
        .filter(|e| e.message.starts_with("ran "))
        .map(|e| e.message.as_str())
        .collect();
    assert_eq!(order, ["ran a", "ran b", "ran c"]);
    assert!(
        events
            .iter()
            .all(|e| e.worker.as_deref().is_none_or(|w| w.starts_with("w1/")))
    );
}

async fn a_permanent_failure_fails_the_task_at_its_step(store: Store) {
    let tasks = tasks_on(store).await;
    let handler = Arc::new(Recorder::default());
    let id = submit(
        &tasks,
        json!({ "fail": { "step": "b", "transient": false } }),
    )
    .await;
    runner(&tasks, handler.clone(), "w1", Duration::from_secs(10))
        .drain()
        .await
        .expect("drain");
    let task = tasks.get(&id).await.expect("get").expect("task");
    assert_eq!(task.status, TaskStatus::Failed);
    assert!(
        task.error
            .as_deref()
            .unwrap_or("")
            .contains("the request is wrong"),
        "{task:?}"
    );
    let states: Vec<&str> = task.steps.iter().map(|s| s.status.as_str()).collect();
    assert_eq!(states, ["completed", "failed", "pending"]);
    assert_eq!(
        task.steps[1].attempts, 1,
        "a permanent failure is not retried"
    );
}

async fn an_expired_lease_is_taken_over_and_the_old_worker_is_shut_out(store: Store) {
    let tasks = tasks_on(store).await;
    let lease = Duration::from_millis(300);
    let id = submit(&tasks, json!({})).await;
    // Worker A claims the task and then stops (it never heartbeats or runs a step).
    let claimed = tasks
        .claim("A", lease)
        .await
        .expect("claim")
        .expect("a task");
    assert_eq!((claimed.id.as_str(), claimed.attempts), (id.as_str(), 1));
    let a = claimed.holder.clone();
    assert!(a.starts_with("A/"), "{a}");
    assert!(tasks.step_started(&id, &a, 0).await.expect("start"));
    assert!(
        tasks.claim("B", lease).await.expect("claim").is_none(),
        "A's lease still runs"
    );
    tokio::time::sleep(lease + Duration::from_millis(100)).await;

    let handler = Arc::new(Recorder::default());
    let b = runner(&tasks, handler.clone(), "B", lease);
    assert_eq!(b.drain().await.expect("drain"), 1);
    let task = tasks.get(&id).await.expect("get").expect("task");
    assert_eq!(task.status, TaskStatus::Completed);
    assert_eq!(task.attempts, 2);
    assert_eq!(task.steps[0].attempts, 2, "the interrupted step ran again");
    let events = tasks.events(&id, 0, 100).await.expect("events");
    assert!(
        events.iter().any(|e| e.message.contains("Resumed by B")),
        "{events:?}"
    );

    // A comes back: nothing it writes lands.
    assert!(!tasks.heartbeat(&id, &a, lease).await.expect("heartbeat"));
    assert!(!tasks.step_started(&id, &a, 1).await.expect("start"));
    assert!(!tasks.log(&id, &a, None, "info", "late").await.expect("log"));
    assert!(
        !tasks
            .finish(&id, &a, TaskStatus::Failed, Some("late"), None)
            .await
            .expect("finish")
    );
    let after = tasks.get(&id).await.expect("get").expect("task");
    assert_eq!(after.status, TaskStatus::Completed);

    // A claim is its own holder: the same worker claiming again does not revive an old claim.
    let again = submit(&tasks, json!({})).await;
    let first = tasks
        .claim("A", lease)
        .await
        .expect("claim")
        .expect("a task");
    tokio::time::sleep(lease + Duration::from_millis(100)).await;
    let second = tasks
        .claim("A", lease)
        .await
        .expect("claim")
        .expect("the same task");
    assert_eq!(
        (first.id.as_str(), second.id.as_str()),
        (again.as_str(), again.as_str())
    );
    assert_ne!(first.holder, second.holder);
    assert!(
        !tasks
            .heartbeat(&again, &first.holder, lease)
            .await
            .expect("heartbeat")
    );
    assert!(
        tasks
            .heartbeat(&again, &second.holder, lease)
            .await
            .expect("heartbeat")
    );
}

async fn one_unfinished_task_per_subject(store: Store) {
    let tasks = tasks_on(store).await;
    let new = |subject: &str| NewTask {
        kind: "test".to_owned(),
        title: "Change it".to_owned(),
        input: json!({}),
        requester: "user:default/ada".to_owned(),
        owner: None,
        subject: Some(subject.to_owned()),
        steps: vec![("a".to_owned(), "Step a".to_owned())],
    };
    let first = tasks.create(new("ns-1")).await.expect("first");
    let refused = tasks
        .create(new("ns-1"))
        .await
        .expect_err("a second one waits");
    assert!(
        matches!(refused, causeway_platform::Error::Conflict(_)),
        "{refused:?}"
    );
    tasks
        .create(new("ns-2"))
        .await
        .expect("another subject is free");
    // Once the first has ended, the subject is free again.
    tasks
        .cancel(&first.id, "user:default/ada")
        .await
        .expect("cancel");
    tasks.create(new("ns-1")).await.expect("free again");
    // A task that has ended cannot be cancelled (409), not even by racing its end.
    assert!(matches!(
        tasks.cancel(&first.id, "user:default/ada").await,
        Err(causeway_platform::Error::Conflict(_))
    ));
}

async fn a_worker_claims_only_the_kinds_it_runs(store: Store) {
    let tasks = tasks_on(store).await;
    tasks
        .create(NewTask {
            kind: "other".to_owned(),
            title: "Not for this worker".to_owned(),
            input: json!({}),
            requester: "user:default/ada".to_owned(),
            owner: None,
            subject: None,
            steps: vec![("a".to_owned(), "Step a".to_owned())],
        })
        .await
        .expect("create");
    let handler = Arc::new(Recorder::default());
    let ran = runner(&tasks, handler, "w1", Duration::from_secs(10))
        .drain()
        .await
        .expect("drain");
    assert_eq!(
        ran, 0,
        "a kind without a handler is left for another worker"
    );
}

async fn cancellation_is_honoured_between_steps(store: Store) {
    let tasks = tasks_on(store).await;
    // An open task is cancelled at once.
    let waiting = submit(&tasks, json!({})).await;
    let cancelled = tasks
        .cancel(&waiting, "user:default/ada")
        .await
        .expect("cancel");
    assert_eq!(cancelled.status, TaskStatus::Cancelled);
    assert!(cancelled.steps.iter().all(|s| s.status == "cancelled"));
    assert!(
        tasks.cancel(&waiting, "user:default/ada").await.is_err(),
        "already ended"
    );

    // A running task stops before its next step.
    let handler = Arc::new(Recorder::default());
    let id = submit(&tasks, json!({ "hold": "a" })).await;
    let worker = runner(&tasks, handler.clone(), "w1", Duration::from_secs(10));
    let run = tokio::spawn(async move { worker.drain().await });
    while handler.held.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tasks.cancel(&id, "user:default/ada").await.expect("cancel");
    handler.hold.notify_one();
    run.await.expect("join").expect("drain");
    let task = tasks.get(&id).await.expect("get").expect("task");
    assert_eq!(task.status, TaskStatus::Cancelled);
    let states: Vec<&str> = task.steps.iter().map(|s| s.status.as_str()).collect();
    assert_eq!(states, ["completed", "cancelled", "cancelled"]);
}

async fn competing_workers_never_claim_a_task_twice(store: Store) {
    let tasks = tasks_on(store).await;
    let mut ids = Vec::new();
    for _ in 0..24 {
        ids.push(submit(&tasks, json!({})).await);
    }
    let handler = Arc::new(Recorder::default());
    let workers: Vec<_> = (0..4)
        .map(|i| {
            let runner = runner(
                &tasks,
                handler.clone(),
                &format!("w{i}"),
                Duration::from_secs(10),
            );
            tokio::spawn(async move { runner.drain().await.expect("drain") })
        })
        .collect();
    let mut total = 0;
    for worker in workers {
        total += worker.await.expect("join");
    }
    assert_eq!(total, 24, "every task ran exactly once across the workers");
    for id in &ids {
        let task = tasks.get(id).await.expect("get").expect("task");
        assert_eq!(task.status, TaskStatus::Completed);
        assert_eq!(task.attempts, 1, "claimed once: {task:?}");
        let writers: std::collections::BTreeSet<Option<String>> = tasks
            .events(id, 0, 100)
            .await
            .expect("events")
            .into_iter()
            .filter_map(|e| e.worker.map(Some))
            .collect();
        assert_eq!(
            writers.len(),
            1,
            "one worker wrote task {id}'s log: {writers:?}"
        );
    }
    assert_eq!(handler.runs.lock().expect("lock").len(), 24 * 3);
}

async fn a_stopped_runner_finishes_its_tasks_and_claims_no_more(store: Store) {
    let tasks = tasks_on(store).await;
    let handler = Arc::new(Recorder::default());
    let running = submit(&tasks, json!({ "hold": "b" })).await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    // The runner looks for work only when a task is created or every 10 s, so that no claim is
    // under way when the stop is sent: a claim already started when the runner is stopped may
    // still take a task created meanwhile, which is not what this test is about.
    let idle = Runner::new(
        tasks.clone(),
        BTreeMap::from([("test".to_owned(), handler.clone() as Arc<dyn Handler>)]),
        "w1".to_owned(),
        Settings {
            poll: Duration::from_secs(10),
            ..settings(Duration::from_secs(10))
        },
    );
    let worker = idle.spawn_until(async move {
        let _ = stopped.await;
    });
    while handler.held.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The runner claims again as soon as it has started the held task; that claim finds nothing
    // and ends within this pause.
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.send(()).expect("stop");
    let waiting = submit(&tasks, json!({})).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !worker.is_finished(),
        "the runner waits for the task it is running"
    );
    handler.hold.notify_one();
    tokio::time::timeout(Duration::from_secs(10), worker)
        .await
        .expect("the runner ends once its task has")
        .expect("join");
    let task = tasks.get(&running).await.expect("get").expect("task");
    assert_eq!(task.status, TaskStatus::Completed, "{task:?}");
    assert_eq!(task.attempts, 1, "claimed once: {task:?}");
    let task = tasks.get(&waiting).await.expect("get").expect("task");
    assert_eq!(
        task.status,
        TaskStatus::Open,
        "left for another worker: {task:?}"
    );
    assert_eq!(task.attempts, 0, "never claimed: {task:?}");
}
