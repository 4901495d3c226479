/** Every patch type the apiserver accepts, as pure functions over plain JSON values. */
export { type ApplyOptions, type ApplyResult, applyPatch, conflictError, describeManager } from "./apply.js";
export { PATCH_TYPES, type PatchType, parsePatchBody, patchObject, patchTypeOf } from "./dispatch.js";
export {
  comparePathElements,
  type FieldPath,
  FieldSet,
  fieldElement,
  formatPath,
  indexElement,
  keyElement,
  type PathElement,
  valueElement,
} from "./fieldset.js";
export {
  applyJsonPatch,
  type JsonPatchOperation,
  MAX_JSON_PATCH_OPERATIONS,
  parseJsonPatch,
} from "./json-patch.js";
export {
  decodeManagedFields,
  encodeManagedFields,
  type FieldManagerOptions,
  type ManagerSet,
  managerIdentity,
  updateManagedFields,
} from "./managed-fields.js";
export { applyMergePatch, createMergePatch, mergePatchValue } from "./merge-patch.js";
export { strategicMergePatch } from "./strategic.js";
export { compareObjects, mergeApplied, toFieldSet } from "./typed.js";
