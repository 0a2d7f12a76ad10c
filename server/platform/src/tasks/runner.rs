//! The worker loop: claim a task, keep its lease alive, run its unfinished steps in order through
//! the handler for its kind, retry transient failures with exponential backoff and jitter, honour
//! cancellation between steps, and record how it ended.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::future::BoxFuture;
use rand::Rng;
use serde_json::Value;
use tokio::sync::Semaphore;

use super::lease::{Claimed, Fence};
use super::{TaskStatus, Tasks};

/// Why a step did not complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepError {
    /// Worth retrying: the cluster or a network was unavailable, not the request wrong.
    pub transient: bool,
    pub message: String,
}

impl StepError {
    pub fn transient(message: impl Into<String>) -> Self {
        Self {
            transient: true,
            message: message.into(),
        }
    }

    pub fn permanent(message: impl Into<String>) -> Self {
        Self {
            transient: false,
            message: message.into(),
        }
    }
}

/// What a running step can see and do.
#[derive(Debug)]
pub struct Context {
    pub id: String,
    pub input: Value,
    pub requester: String,
    /// How often the task has been claimed, this time included (more than one: it resumed).
    pub attempts: i64,
    tasks: Tasks,
    /// This claim's holder: every write names it.
    holder: String,
    output: std::sync::Mutex<Option<Value>>,
}

impl Context {
    /// Appends a line to the task's log.
    pub async fn log(&self, step: &str, message: impl AsRef<str>) {
        self.write(step, "info", message.as_ref()).await;
    }

    /// Appends a warning to the task's log.
    pub async fn warn(&self, step: &str, message: impl AsRef<str>) {
        self.write(step, "warn", message.as_ref()).await;
    }

    /// Writes an event; an empty `step` is a line about the whole task.
    async fn write(&self, step: &str, level: &str, message: &str) {
        let step = (!step.is_empty()).then_some(step);
        if let Err(error) = self
            .tasks
            .log(&self.id, &self.holder, step, level, message)
            .await
        {
            tracing::warn!(task = %self.id, %error, "could not write a task event");
        }
    }

    /// This claim, for writes outside the task tables that must stop when the lease is lost.
    pub fn fence(&self) -> Fence {
        Fence {
            task: self.id.clone(),
            holder: self.holder.clone(),
        }
    }

    /// Whether this claim still holds the task: asked right before a write that cannot be made
    /// conditional on it (a call to a cluster, a git commit). A database that cannot answer
    /// counts as "no", so that a doubtful worker writes nothing.
    pub async fn holds(&self) -> bool {
        self.tasks.holds(&self.fence()).await.unwrap_or(false)
    }

    /// Sets what the task returns when it completes.
    pub fn set_output(&self, output: Value) {
        *self.output.lock().unwrap_or_else(|e| e.into_inner()) = Some(output);
    }
}

/// Runs the steps of one kind of task. Steps must be idempotent: a step interrupted by a crash is
/// run again from its beginning by the worker that takes the task over.
pub trait Handler: Send + Sync {
    fn run_step<'a>(
        &'a self,
        context: &'a Context,
        step: &'a str,
    ) -> BoxFuture<'a, Result<(), StepError>>;

    /// Called once when the task ends (completed, failed or cancelled), before that is recorded.
    fn finished<'a>(
        &'a self,
        context: &'a Context,
        status: TaskStatus,
        error: Option<&'a str>,
    ) -> BoxFuture<'a, ()>;
}

/// How a runner behaves.
#[derive(Debug, Clone)]
pub struct Settings {
    /// A task whose worker has not renewed its lease for this long is taken over.
    pub lease: Duration,
    /// Tasks run at once by this worker.
    pub concurrency: usize,
    /// How often to look for work when nothing woke the runner.
    pub poll: Duration,
    /// Attempts per step for transient failures.
    pub step_attempts: u32,
    /// First retry delay; doubled each time, with up to 50% jitter.
    pub backoff: Duration,
    /// Claims after which a task that keeps dying is failed instead of resumed again.
    pub task_attempts: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(15),
            concurrency: 4,
            poll: Duration::from_millis(500),
            step_attempts: 5,
            backoff: Duration::from_millis(500),
            task_attempts: 20,
        }
    }
}

/// A worker: claims and runs tasks of the kinds it has handlers for.
#[derive(Clone)]
pub struct Runner {
    tasks: Tasks,
    handlers: Arc<BTreeMap<String, Arc<dyn Handler>>>,
    worker: String,
    settings: Settings,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("worker", &self.worker)
            .field("kinds", &self.handlers.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Runner {
    /// A runner named `worker` (unique per process: it is recorded on every claim and event).
    pub fn new(
        tasks: Tasks,
        handlers: BTreeMap<String, Arc<dyn Handler>>,
        worker: String,
        settings: Settings,
    ) -> Self {
        Self {
            tasks,
            handlers: Arc::new(handlers),
            worker,
            settings,
        }
    }

    pub fn worker(&self) -> &str {
        &self.worker
    }

    /// The kinds this runner has handlers for: the only ones it claims.
    fn kinds(&self) -> Vec<String> {
        self.handlers.keys().cloned().collect()
    }

    /// Runs until the process ends: claims tasks while it has capacity, and waits for a new one
    /// (or the poll interval) when there are none.
    pub fn spawn(self) -> tokio::task::JoinHandle<()> {
        self.spawn_until(std::future::pending())
    }

    /// [`Runner::spawn`] until `stop` completes: from then on it claims nothing more, and the
    /// returned handle completes once the tasks it had claimed have ended. A claim in progress
    /// is never abandoned half-way, so no task is left claimed by a runner that will not run it.
    pub fn spawn_until(
        self,
        stop: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let concurrency = self.settings.concurrency.max(1);
            let slots = Arc::new(Semaphore::new(concurrency));
            tokio::pin!(stop);
            loop {
                let slot = tokio::select! {
                    biased;
                    () = &mut stop => break,
                    slot = slots.clone().acquire_owned() => match slot {
                        Ok(slot) => slot,
                        Err(_) => return,
                    },
                };
                match self
                    .tasks
                    .claim_kinds(&self.worker, self.settings.lease, &self.kinds())
                    .await
                {
                    Ok(Some(claimed)) => {
                        let runner = self.clone();
                        tokio::spawn(async move {
                            runner.run(claimed).await;
                            drop(slot);
                        });
                    }
                    Ok(None) => {
                        drop(slot);
                        tokio::select! {
                            biased;
                            () = &mut stop => break,
                            _ = tokio::time::timeout(self.settings.poll, self.tasks.created()) => {}
                        }
                    }
                    Err(error) => {
                        drop(slot);
                        tracing::warn!(%error, "could not claim a task");
                        tokio::select! {
                            biased;
                            () = &mut stop => break,
                            () = tokio::time::sleep(self.settings.poll) => {}
                        }
                    }
                }
            }
            // Every slot back means every claimed task has ended.
            let _ = slots
                .acquire_many(u32::try_from(concurrency).unwrap_or(u32::MAX))
                .await;
        })
    }

    /// Claims and runs tasks until none is left; returns how many it ran (for the command line
    /// and tests).
    pub async fn drain(&self) -> crate::Result<usize> {
        let mut ran = 0;
        while let Some(claimed) = self
            .tasks
            .claim_kinds(&self.worker, self.settings.lease, &self.kinds())
            .await?
        {
            self.run(claimed).await;
            ran += 1;
        }
        Ok(ran)
    }

    /// Runs task `id` here if no other worker has it; `false` when another worker does.
    pub async fn run_task(&self, id: &str) -> crate::Result<bool> {
        match self
            .tasks
            .claim_task(&self.worker, self.settings.lease, id)
            .await?
        {
            Some(claimed) => {
                self.run(claimed).await;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Runs one claimed task to its end, or until its lease is lost.
    pub async fn run(&self, claimed: Claimed) {
        let lost = Arc::new(AtomicBool::new(false));
        // Dropped on every way out, a panicking step included, so that a lease is never renewed
        // for a task nobody runs any more.
        let _heartbeat = AbortOnDrop(tokio::spawn(keep_alive(
            self.tasks.clone(),
            claimed.id.clone(),
            claimed.holder.clone(),
            self.settings.lease,
            lost.clone(),
        )));
        self.run_steps(claimed, &lost).await;
    }

    async fn run_steps(&self, claimed: Claimed, lost: &AtomicBool) {
        let context = Context {
            id: claimed.id.clone(),
            input: claimed.input,
            requester: claimed.requester,
            attempts: claimed.attempts,
            tasks: self.tasks.clone(),
            holder: claimed.holder,
            output: std::sync::Mutex::new(None),
        };
        let Some(handler) = self.handlers.get(&claimed.kind).cloned() else {
            let error = format!("no worker handles tasks of kind {:?}", claimed.kind);
            self.end(&context, None, TaskStatus::Failed, Some(&error))
                .await;
            return;
        };
        if claimed.attempts > self.settings.task_attempts {
            let error = format!(
                "abandoned after {} attempts: its workers kept stopping before it finished",
                claimed.attempts - 1
            );
            self.end(&context, Some(&*handler), TaskStatus::Failed, Some(&error))
                .await;
            return;
        }
        if claimed.attempts > 1 {
            context
                .warn(
                    "",
                    format!(
                        "Resumed by {} (attempt {}): the previous worker stopped",
                        self.worker, claimed.attempts
                    ),
                )
                .await;
        }
        let steps = match self.tasks.steps(&context.id).await {
            Ok(steps) => steps,
            Err(error) => {
                tracing::warn!(task = %context.id, %error, "could not read the task's steps; it will be resumed");
                return;
            }
        };
        for step in steps.iter().filter(|s| s.status != "completed") {
            if lost.load(Ordering::Acquire) {
                return;
            }
            if self
                .tasks
                .cancel_requested(&context.id)
                .await
                .unwrap_or(false)
            {
                context.warn(&step.name, "Cancelled before this step").await;
                self.end(&context, Some(&*handler), TaskStatus::Cancelled, None)
                    .await;
                return;
            }
            match self.run_step(&context, &*handler, step, lost).await {
                Some(Ok(())) => {}
                Some(Err(message)) => {
                    self.end(
                        &context,
                        Some(&*handler),
                        TaskStatus::Failed,
                        Some(&message),
                    )
                    .await;
                    return;
                }
                // The lease is gone: whoever holds the task now carries on.
                None => return,
            }
        }
        self.end(&context, Some(&*handler), TaskStatus::Completed, None)
            .await;
    }

    /// One step with its retries: `None` when the lease was lost on the way.
    async fn run_step(
        &self,
        context: &Context,
        handler: &dyn Handler,
        step: &super::Step,
        lost: &AtomicBool,
    ) -> Option<Result<(), String>> {
        let mut delay = self.settings.backoff;
        for attempt in 1..=self.settings.step_attempts {
            if !self
                .tasks
                .step_started(&context.id, &context.holder, step.position)
                .await
                .unwrap_or(false)
            {
                return None;
            }
            context.log(&step.name, format!("{} …", step.title)).await;
            let result = handler.run_step(context, &step.name).await;
            if lost.load(Ordering::Acquire) {
                return None;
            }
            match result {
                Ok(()) => {
                    let held = self
                        .tasks
                        .step_finished(
                            &context.id,
                            &context.holder,
                            step.position,
                            "completed",
                            None,
                        )
                        .await
                        .unwrap_or(false);
                    return held.then_some(Ok(()));
                }
                Err(error) if error.transient && attempt < self.settings.step_attempts => {
                    let jitter = rand::rng().random_range(0..=delay.as_millis() as u64 / 2);
                    let wait = delay + Duration::from_millis(jitter);
                    context
                        .warn(
                            &step.name,
                            format!(
                                "{} (attempt {attempt} of {}); retrying in {} ms",
                                error.message,
                                self.settings.step_attempts,
                                wait.as_millis()
                            ),
                        )
                        .await;
                    tokio::time::sleep(wait).await;
                    delay *= 2;
                }
                Err(error) => {
                    context.write(&step.name, "error", &error.message).await;
                    let held = self
                        .tasks
                        .step_finished(
                            &context.id,
                            &context.holder,
                            step.position,
                            "failed",
                            Some(&error.message),
                        )
                        .await
                        .unwrap_or(false);
                    return held.then(|| Err(format!("{}: {}", step.title, error.message)));
                }
            }
        }
        Some(Err(format!("{}: gave up", step.title)))
    }

    async fn end(
        &self,
        context: &Context,
        handler: Option<&dyn Handler>,
        status: TaskStatus,
        error: Option<&str>,
    ) {
        // The handler's own bookkeeping (records, audit) happens only while this claim still
        // holds the task; a claim that lost it leaves the ending to the one that took over.
        let held = self
            .tasks
            .heartbeat(&context.id, &context.holder, self.settings.lease)
            .await
            .unwrap_or(false);
        if !held {
            return;
        }
        if let Some(handler) = handler {
            handler.finished(context, status, error).await;
        }
        let level = if status == TaskStatus::Completed {
            "info"
        } else {
            "error"
        };
        let summary = match error {
            Some(error) => format!("Task {}: {error}", status.as_str()),
            None => format!("Task {}", status.as_str()),
        };
        context.write("", level, &summary).await;
        let output = context
            .output
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Err(error) = self
            .tasks
            .finish(&context.id, &context.holder, status, error, output.as_ref())
            .await
        {
            tracing::warn!(task = %context.id, %error, "could not record the end of a task; it will be resumed");
        }
    }
}

/// Aborts a spawned task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Renews the lease at a third of its length until aborted; sets `lost` when another claim has
/// the task, or when renewals have failed for as long as the lease lasts (it may have expired).
async fn keep_alive(
    tasks: Tasks,
    id: String,
    holder: String,
    lease: Duration,
    lost: Arc<AtomicBool>,
) {
    let mut interval = tokio::time::interval(lease / 3);
    interval.tick().await;
    let mut renewed = tokio::time::Instant::now();
    loop {
        interval.tick().await;
        match tasks.heartbeat(&id, &holder, lease).await {
            Ok(true) => renewed = tokio::time::Instant::now(),
            Ok(false) => {
                tracing::warn!(task = %id, "lease lost; another worker has the task");
                lost.store(true, Ordering::Release);
                return;
            }
            Err(error) if renewed.elapsed() >= lease => {
                tracing::warn!(task = %id, %error, "lease not renewed for its whole length; stopping");
                lost.store(true, Ordering::Release);
                return;
            }
            // A database hiccup: try again at the next beat, while the lease still runs.
            Err(error) => tracing::warn!(task = %id, %error, "could not renew the lease"),
        }
    }
}
