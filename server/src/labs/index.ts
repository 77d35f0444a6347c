/** Labs: loading, per-session parameters and guide rendering (see `api.ts`). */
import type { LabParams, RenderedGuide, StageSummary } from "./api.ts";
import { renderGuideText } from "./model/guide.ts";
import { editionOf, renderStage, stageFilesFor } from "./model/stage.ts";
import { renderTemplate } from "./model/template.ts";
import type { Lab } from "./model/types.ts";

export { loadLab, listLabs } from "./loader.ts";
export { sessionParams } from "./model/params.ts";
export { editionOf, renderStage } from "./model/stage.ts";
export type { Lab, RenderedStage, Check, Edition } from "./model/types.ts";

/** The guide of stage `stageIndex`, rendered with the session's parameters. */
export function renderGuide(lab: Lab, stageIndex: number, params: LabParams): RenderedGuide {
  const s = stageFilesFor(lab, stageIndex, editionOf(lab, params));
  return renderGuideText(renderTemplate(s.guide.text, params), s.id);
}

/** The stages of a lab, with their questions, for the page's navigation and answer fields. */
export function stageSummaries(lab: Lab, params: LabParams): StageSummary[] {
  return lab.stages.map((s) => {
    const r = renderStage(lab, s.index, params);
    return { index: s.index, id: s.id, title: r.title, questions: r.questions };
  });
}
