/**
 * The pure Calico policy engine: selectors, the policy model, evaluation with traces, DNS-learned IPs. No I/O here.
 * Exports are filled in by the modules of this folder.
 */
export {};
