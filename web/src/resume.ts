/**
 * An attendee's identity across browsers: on the learner's page, their resume code and a PIN they can set; on the
 * join page, the form that continues as an attendee who joined elsewhere.
 */
import { api, ApiError, type LearnerState } from "./api.ts";
import { h, toast } from "./dom.ts";

const message = (err: unknown): string =>
  err instanceof ApiError ? err.message : "Could not reach the server; try again.";

/** The learner page's "Resume code" button and the panel it opens. */
export function resumeButton(state: LearnerState): HTMLElement {
  const panel = h("div", { class: "resume-panel", id: "resume-panel", hidden: "" });
  const render = (s: LearnerState): void => {
    const r = s.resume;
    if (!r) return void panel.replaceChildren(h("p", {}, "This server gives no resume codes."));
    const pin = h("input", {
      id: "resume-pin",
      type: "password",
      inputmode: "numeric",
      autocomplete: "new-password",
      pattern: "[0-9]{4,12}",
      placeholder: "4 to 12 digits",
    });
    const error = h("div", { class: "form-error", role: "alert" });
    panel.replaceChildren(
      h("p", {}, "To continue on another browser or device, enter this code on its join page:"),
      h("code", { class: "resume-code", id: "resume-code" }, r.code),
      h("p", { class: "fine" }, "Keep it to yourself: it opens your cluster and your progress."),
      h(
        "form",
        {
          onsubmit: (e: Event) => {
            e.preventDefault();
            api.setPin(pin.value).then(
              (next) => (render(next), toast("PIN saved")),
              (err: unknown) => (error.textContent = message(err)),
            );
          },
        },
        h(
          "label",
          { for: "resume-pin" },
          r.pin ? "Change your PIN" : "Or set a PIN, to continue with your name and PIN",
        ),
        pin,
        error,
        h("button", { class: "btn", type: "submit" }, "Save PIN"),
      ),
    );
  };
  render(state);
  const button = h(
    "button",
    {
      class: "btn btn-ghost",
      type: "button",
      id: "resume-button",
      "aria-expanded": "false",
      "aria-controls": "resume-panel",
      onclick: () => {
        const open = panel.hasAttribute("hidden");
        panel.toggleAttribute("hidden", !open);
        button.setAttribute("aria-expanded", String(open));
      },
    },
    "Resume code",
  );
  return h("span", { class: "resume" }, button, panel);
}

/** The join page's form for an attendee who joined on another browser. */
export function resumeForm(needsCode: boolean, onResumed: (s: LearnerState) => void): HTMLElement {
  const code = h("input", {
    id: "resume-with-code",
    type: "text",
    autocomplete: "off",
    spellcheck: "false",
    placeholder: "XXXX-XXXX-XXXX-XXXX",
  });
  const join = needsCode
    ? h("input", { id: "resume-join-code", type: "text", autocomplete: "off", placeholder: "workshop code" })
    : undefined;
  const name = h("input", { id: "resume-name", type: "text", maxlength: 40, placeholder: "your name" });
  const pin = h("input", {
    id: "resume-pin-in",
    type: "password",
    inputmode: "numeric",
    autocomplete: "current-password",
    placeholder: "your PIN",
  });
  const error = h("div", { class: "form-error", id: "resume-error", role: "alert" });
  const button = h("button", { class: "btn btn-primary", type: "submit", id: "resume-go" }, "Continue");
  return h(
    "form",
    {
      class: "join-card resume-card",
      onsubmit: (e: Event) => {
        e.preventDefault();
        error.textContent = "";
        button.disabled = true;
        const body = code.value.trim()
          ? { resumeCode: code.value.trim() }
          : { ...(join?.value.trim() ? { code: join.value.trim() } : {}), name: name.value, pin: pin.value };
        api.resume(body).then(onResumed, (err: unknown) => {
          button.disabled = false;
          error.textContent = message(err);
        });
      },
    },
    h("h2", {}, "Joined already on another device?"),
    h("label", { for: "resume-with-code" }, "Your resume code"),
    code,
    h("p", { class: "fine" }, "or"),
    join ? h("label", { for: "resume-join-code" }, "Workshop code") : null,
    join ?? null,
    h("label", { for: "resume-name" }, "Your name"),
    name,
    h("label", { for: "resume-pin-in" }, "Your PIN"),
    pin,
    error,
    button,
  );
}
