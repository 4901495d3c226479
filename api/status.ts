/** Kubernetes Status objects and the error type every handler throws. */

export type StatusReason =
  | "BadRequest"
  | "Unauthorized"
  | "Forbidden"
  | "NotFound"
  | "AlreadyExists"
  | "Conflict"
  | "Gone"
  | "Invalid"
  | "Expired"
  | "MethodNotAllowed"
  | "NotAcceptable"
  | "RequestEntityTooLarge"
  | "UnsupportedMediaType"
  | "TooManyRequests"
  | "InternalError"
  | "ServiceUnavailable"
  | "Timeout";

export interface StatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

export interface Status {
  kind: "Status";
  apiVersion: "v1";
  metadata: Record<string, never>;
  status: "Success" | "Failure";
  message?: string;
  reason?: StatusReason;
  details?: {
    name?: string;
    group?: string;
    kind?: string;
    uid?: string;
    causes?: StatusCause[];
    retryAfterSeconds?: number;
  };
  code: number;
}

export class StatusError extends Error {
  constructor(
    readonly code: number,
    readonly reason: StatusReason,
    message: string,
    readonly details?: Status["details"],
  ) {
    super(message);
    this.name = "StatusError";
  }

  toStatus(): Status {
    return {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: this.message,
      reason: this.reason,
      ...(this.details ? { details: this.details } : {}),
      code: this.code,
    };
  }
}

/** "pods" in group "" is shown as `pods`, in "apps" as `deployments.apps` */
function qualified(group: string, resource: string): string {
  return group ? `${resource}.${group}` : resource;
}

export const errors = {
  badRequest: (message: string) => new StatusError(400, "BadRequest", message),
  unauthorized: () => new StatusError(401, "Unauthorized", "Unauthorized"),
  forbidden: (message: string) => new StatusError(403, "Forbidden", message),
  notFound: (group: string, resource: string, name: string) =>
    new StatusError(404, "NotFound", `${qualified(group, resource)} "${name}" not found`, {
      name,
      group,
      kind: resource,
    }),
  pathNotFound: (path: string) =>
    new StatusError(404, "NotFound", `the server could not find the requested resource (${path})`),
  alreadyExists: (group: string, resource: string, name: string) =>
    new StatusError(409, "AlreadyExists", `${qualified(group, resource)} "${name}" already exists`, {
      name,
      group,
      kind: resource,
    }),
  conflict: (group: string, resource: string, name: string, why: string) =>
    new StatusError(
      409,
      "Conflict",
      `Operation cannot be fulfilled on ${qualified(group, resource)} "${name}": ${why}`,
      { name, group, kind: resource },
    ),
  gone: (message: string) => new StatusError(410, "Gone", message),
  expired: (message: string) => new StatusError(410, "Expired", message),
  invalid: (group: string, kind: string, name: string, causes: StatusCause[]) =>
    new StatusError(
      422,
      "Invalid",
      `${kind}${group ? "." + group : ""} "${name}" is invalid: ${causes.map((c) => `${c.field}: ${c.message}`).join(", ")}`,
      { name, group, kind, causes },
    ),
  methodNotAllowed: (message: string) => new StatusError(405, "MethodNotAllowed", message),
  notAcceptable: (message: string) => new StatusError(406, "NotAcceptable", message),
  tooLarge: (message: string) => new StatusError(413, "RequestEntityTooLarge", message),
  unsupportedMediaType: (type: string) =>
    new StatusError(
      415,
      "UnsupportedMediaType",
      `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (got ${type})`,
    ),
  internal: (message: string) => new StatusError(500, "InternalError", `Internal error occurred: ${message}`),
  unavailable: (message: string) => new StatusError(503, "ServiceUnavailable", message),
};

/** A field error in the style of k8s.io/apimachinery field.Error: reason FieldValueInvalid etc. */
export function fieldError(
  type:
    | "FieldValueInvalid"
    | "FieldValueRequired"
    | "FieldValueNotSupported"
    | "FieldValueDuplicate"
    | "FieldValueForbidden"
    | "FieldValueTooLong",
  field: string,
  message: string,
): StatusCause {
  return { reason: type, field, message };
}
