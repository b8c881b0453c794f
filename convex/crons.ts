import { cronJobs } from 'convex/server';
import { internal } from './_generated/api.js';

const crons = cronJobs();

crons.hourly('prune changes', { minuteUTC: 7 }, internal.watch.prune, {});

export default crons;
