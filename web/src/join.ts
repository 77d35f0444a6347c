/** The join screen: a name (and the workshop's code when it has one). */
import { api, ApiError, type LearnerState } from "./api.ts";
import { h } from "./dom.ts";

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
        api.join(name.value, code?.value).then(onJoined, (err: unknown) => {
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
    error,
    button,
    h(
      "p",
      { class: "fine" },
      "You get a Kubernetes cluster with Calico of your own, a terminal with kubectl, and a guide. Your progress is saved.",
    ),
  );
  root.replaceChildren(h("main", { class: "join" }, form));
  name.focus();
}
