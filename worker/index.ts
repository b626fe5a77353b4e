// The job system's facade: everything server/ (HTTP) and seeds/ use of worker/ is exported here.
//
// Glossary
//   request  A user's processing request: one row in processing_requests (id, owner, input, status…).
//   feature  A kind of work (`text-stats`, `csv-profile`): one file under worker/features/ with an
//            input schema, limits and the four phase functions, listed once in features/index.ts.
//   job      One pg-boss job in the feature's queue: one *attempt* at a request. A retry is a new job.
//   phase    validate → process → save → cleanup, run in that order inside a thread; cleanup always.
//   thread   A Node worker thread of the pool. It runs one job at a time, and many jobs in its life;
//            a thread that crashes, runs out of memory or is terminated is replaced.
//   engine   The main-thread side (engine/): claims jobs from pg-boss when a thread is free (short
//            jobs also a few ahead, threads/pool.ts), hands them to threads, writes every status
//            change and result to the database.
//   schedule A row of `schedules` mirrored into pg-boss's cron; each tick creates a request.
//
// Folders: features/ (the feature API, registry, built-in features), requests/ (creating, reading,
// cancelling requests; input validation; media paths; live events), queue/ (pg-boss: settings,
// queues, the one adapter over its internals), engine/ (claim, run, settle, recover), threads/
// (the pool, the thread entry, the messages between them), schedules/ (cron rows ↔ pg-boss),
// monitoring/ (queue depths and the queue controls: pause, concurrency limit).
// Imports run server → worker → db only: nothing here imports server/.

export { InputError, NotFoundError, ConflictError } from './errors.ts'

export { defineFeature, JobError, resultOf, type Feature, type JobContext, type RetryPolicy } from './features/api.ts'
export { featuresOf, getFeature, loadFeatures, moduleUrls, registerFeatureModules } from './features/registry.ts'

export { BOSS_SCHEMA, createBoss, type BossSettings } from './queue/boss.ts'
export { ensureQueues, queueName, timeLimitOf, type QueueSettings } from './queue/queues.ts'

export { createRequest, type NewProcessingRequest } from './requests/create.ts'
export { validateInput } from './requests/input.ts'
export { validationBody, validatorCompiler } from './requests/schema-validation.ts'
export {
  cancelRequest, countRequests, deleteRequest, findByIdempotencyKey, findRequest, findResult, findStatus, isTerminal, listRequests,
  UNFINISHED, type ListFilter, type StatusRow,
} from './requests/repository.ts'
export { retryRequest, RETRYABLE } from './requests/retry.ts'
export { countStaffRequests, findQueueJob, findStaffRequest, listStaffRequests, type StaffFilter, type StaffOrderField, type StaffRow } from './requests/staff-list.ts'
export { deleteOwnerData, type OwnerData } from './requests/owner.ts'
export { inputDir, insideDir, outputDir, removeRequestFiles, safeFileName } from './requests/media.ts'
export { acquireRequestEvents, localEnqueued, RequestEvents, type LogEvent, type RequestEvent } from './requests/events.ts'

export { startEngine, type Engine, type EngineDeps } from './engine/index.ts'
export type { EngineSettings } from './engine/settings.ts'
export { liveThreads } from './threads/pool.ts'
export { readLogs } from './engine/job-log.ts'
export { startInstanceHeartbeat, type InstanceBeat } from './engine/instances.ts'
export { NO_METRICS, type JobMetrics, type JobOutcome } from './metrics.ts'

export { monitoringOverview, queueDepths, type FeatureDepth, type InstanceRow, type Overview } from './monitoring/overview.ts'
export { setFeatureConcurrency, setFeaturePaused, type FeatureSettings } from './monitoring/feature-settings.ts'

export { ensureTickQueue, reconcileSchedules, startScheduler, syncSchedule, type Scheduler } from './schedules/scheduler.ts'
export { createScheduledRequest } from './schedules/run.ts'
export { checkSchedule } from './schedules/validate.ts'
export { nextRunAt } from './schedules/cron.ts'
export { deleteSchedule, findSchedule, insertSchedule, updateSchedule, type ScheduleFields } from './schedules/repository.ts'
