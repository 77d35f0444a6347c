/** The join screen: a name (and the workshop's code when it has one). */
import { api, ApiError, type LearnerState } from "./api.ts";
import { h } from "./dom.ts";
import { resumeForm } from "./resume.ts";

export async function showJoin(root: HTMLElement, onJoined: (s: LearnerState) => void): Promise<void> {
  const info = await api.workshop();
  const error = h("div", { class: "form-error", id: "join-error", role: "alert" });
  const name = h("input", {
    id: "join-name",
    name: "name",
    type: "text",
    required: true,
    maxlength: 40,
    autocomplete: "nickname",
    placeholder: "Ada Lovelace",
  });
  const code = info.joinCode
    ? h("input", {
        id: "join-code",
        name: "code",
        type: "text",
        required: true,
        autocomplete: "off",
        placeholder: "from your instructor",
      })
    : undefined;
  const pin = h("input", {
    id: "join-pin",
    name: "pin",
    type: "password",
    inputmode: "numeric",
    autocomplete: "new-password",
    pattern: "[0-9]{4,12}",
    placeholder: "optional, 4 to 12 digits",
  });
  const button = h(
    "button",
    { class: "btn btn-primary btn-large", type: "submit", id: "join-button" },
    "Start the lab",
  );
  const form = h(
    "form",
    {
      class: "join-card",
      onsubmit: (e: Event) => {
        e.preventDefault();
        button.disabled = true;
        button.textContent = "Preparing your cluster…";
        error.textContent = "";
        api.join(name.value, code?.value, pin.value || undefined).then(onJoined, (err: unknown) => {
          button.disabled = false;
          button.textContent = "Start the lab";
          error.textContent =
            err instanceof ApiError ? err.message : "Could not reach the server; try again.";
        });
      },
    },
    h("h1", {}, info.lab.title),
    h("p", { class: "lead" }, info.lab.description),
    h("label", { for: "join-name" }, "Your name"),
    name,
    code ? h("label", { for: "join-code" }, "Workshop code") : null,
    code ?? null,
    h("label", { for: "join-pin" }, "A PIN, to continue later on another device"),
    pin,
    error,
    button,
    h(
      "p",
      { class: "fine" },
      "You get a Kubernetes cluster with Calico of your own, a terminal with kubectl, and a guide. Your progress is saved.",
    ),
  );
  const other = resumeForm(info.joinCode, onJoined);
  other.hidden = true;
  const toggle = h(
    "button",
    {
      class: "btn-link",
      type: "button",
      id: "resume-toggle",
      onclick: () => (other.hidden = !other.hidden),
    },
    "Joined already on another browser? Continue there",
  );
  root.replaceChildren(h("main", { class: "join" }, form, toggle, other));
  name.focus();
}
