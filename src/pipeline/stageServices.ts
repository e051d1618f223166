/** Services stages may use beyond the core ones (experiment execution and workspaces). */
import type { Executor } from "../services/Executor.ts"
import type { Workspace } from "../services/Workspace.ts"

export type StageExtraServices = Executor | Workspace
