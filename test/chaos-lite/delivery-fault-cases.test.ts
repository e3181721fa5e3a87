import { deliveryFaultCases } from '../chaos/delivery-fault-cases.js';

/** The delivery fault cases of test/chaos with fewer leads, for `npm test`. */
deliveryFaultCases({ leads: 12 });
