import { faultScheduleSuite } from '../chaos/fault-schedule-suite.js';

/** 20 seeded fault schedules in `npm test`; `npm run test:chaos -- --schedules 500` runs more (test/chaos). */
faultScheduleSuite(20);
