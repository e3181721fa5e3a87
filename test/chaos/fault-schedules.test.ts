import { faultScheduleSuite } from './fault-schedule-suite.js';

/** `npm run test:chaos -- --schedules 500`: as many seeded fault schedules as asked (default 100). */
faultScheduleSuite(Number(process.env.LEADRELAY_CHAOS_SCHEDULES ?? 100));
