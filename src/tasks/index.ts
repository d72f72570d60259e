export * from "./task.js";
export * from "./task-runner.js";
export { TaskSchedule } from "./schedule.js";
