export * from "./core.js";
export { FileSource, type FileSourceOptions } from "./file.js";
