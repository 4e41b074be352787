/**
 * The library's public types, in one module: the options a caller writes and
 * what the library hands back (progress, answers, reports, error fields).
 * Types only: nothing here runs, and nothing under lib/types/ imports the
 * rest of lib/, so every file may import this without making a circle. The
 * three parts: the options (types/options.ts), the values they take
 * (types/settings.ts) and what comes back (types/reports.ts).
 */
export type * from './types/options.js';
export type * from './types/settings.js';
export type * from './types/reports.js';
