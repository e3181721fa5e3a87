import { deliveryFaultCases } from './delivery-fault-cases.js';

/** The delivery fault cases at full size (`npm run test:chaos`); `npm test` runs them with fewer leads (test/chaos-lite). */
deliveryFaultCases({ leads: 40 });
