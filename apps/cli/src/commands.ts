/** Every `leadrelay` command (README: CLI); docker-compose services must run one of these. */
export const COMMAND_NAMES = ['intake', 'worker', 'ops', 'start', 'validate', 'check', 'test-lead', 'status', 'stats', 'dlq', 'pause', 'resume', 'audit', 'migrate-keys'] as const;
