/**
 * A pod's security contexts as `pkg/apis/core/validation` checks them: seccomp and AppArmor profiles (a Localhost
 * profile names its file, the other types name none), the proc mount type, and an unmasked /proc only inside the pod's
 * own user namespace (`hostUsers: false`).
 */
import type { FieldError } from "./errors.ts";
import { asArray, asObject, hasOwn, isObject, type JsonObject } from "../../shared/object.ts";

const PROFILE_TYPES = ["Localhost", "RuntimeDefault", "Unconfined"];
const PROC_MOUNT_TYPES = ["Default", "Unmasked"];

/** `validateSeccompProfileField` and `ValidateAppArmorProfileField`. */
function validateProfile(p: unknown, path: string, what: "seccomp" | "AppArmor", errs: FieldError[]): void {
  if (!isObject(p)) return;
  const hasLocal = hasOwn(p, "localhostProfile") && p.localhostProfile !== null;
  switch (p.type) {
    case "Localhost":
      if (!hasLocal || p.localhostProfile === "")
        errs.push({
          field: `${path}.localhostProfile`,
          type: "Required",
          detail: `must be set when ${what} type is Localhost`,
        });
      break;
    case "RuntimeDefault":
    case "Unconfined":
      if (hasLocal)
        errs.push({
          field: `${path}.localhostProfile`,
          type: "Invalid",
          value: p.localhostProfile,
          detail: `can only be set when ${what} type is Localhost`,
        });
      break;
    default:
      errs.push({
        field: `${path}.type`,
        type: "NotSupported",
        value: p.type ?? "",
        supported: PROFILE_TYPES,
      });
  }
}

function validateContext(sc: JsonObject, path: string, errs: FieldError[]): void {
  validateProfile(sc.seccompProfile, `${path}.seccompProfile`, "seccomp", errs);
  validateProfile(sc.appArmorProfile, `${path}.appArmorProfile`, "AppArmor", errs);
}

/** The pod's and every container's security context. */
export function validateSecurityContexts(spec: JsonObject, path: string, errs: FieldError[]): void {
  if (isObject(spec.securityContext)) validateContext(spec.securityContext, `${path}.securityContext`, errs);
  for (const list of ["initContainers", "containers"])
    asArray(spec[list])
      .map(asObject)
      .forEach((c, i) => {
        if (!isObject(c.securityContext)) return;
        const where = `${path}.${list}[${i}].securityContext`;
        validateContext(c.securityContext, where, errs);
        const pm = c.securityContext.procMount;
        if (pm === undefined || pm === null) return;
        if (!PROC_MOUNT_TYPES.includes(String(pm)))
          errs.push({
            field: `${where}.procMount`,
            type: "NotSupported",
            value: pm,
            supported: PROC_MOUNT_TYPES,
          });
        else if (pm === "Unmasked" && spec.hostUsers !== false)
          errs.push({
            field: `${where}.procMount`,
            type: "Invalid",
            value: pm,
            detail: "`hostUsers` must be false to use `Unmasked`",
          });
      });
}
