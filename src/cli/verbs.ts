/** The verb table of the `hostwire` command: each subsystem registers its verbs here. */
import type { Command } from './context';
import { kernelVerbs } from './kernel';
import { virtVerbs } from './virt';
import { workflowVerbs } from './workflow';

export const verbs: Record<string, Command> = {
  ...kernelVerbs,
  ...virtVerbs,
  ...workflowVerbs,
};
