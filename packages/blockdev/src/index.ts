export * from "./core.js";
export { FileSource } from "./file.js";
