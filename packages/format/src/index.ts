export * from "./errors.js";
export * from "./reader.js";
