export { buildIntakeServer, REJECT_REASONS, type IntakeServerOptions, type RejectReason } from './intake-server.js';
export { startIntake, type RunningIntake, type StartIntakeOptions } from './start-intake.js';
export { ApiKeyVerifier, type ApiKeyVerdict } from './api-key-verifier.js';
export { PROBLEMS, PROBLEM_BASE, PROBLEM_CONTENT_TYPE, type ProblemBody, type ProblemKind } from '@leadrelay/core';
export { redactUrl } from './intake-log-controller.js';
