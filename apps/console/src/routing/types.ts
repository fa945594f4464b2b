import type { components } from '../../../../packages/sdk/src/generated/openapi';

type S = components['schemas'];

export type RoutingDocument = S['RoutingDocument'];
export type RoutingQueue = S['RoutingQueue'];
export type RoutingTimeGroup = S['RoutingTimeGroup'];
export type RoutingTimeCondition = S['RoutingTimeCondition'];
export type RoutingDecisionTree = S['RoutingDecisionTree'];
export type RoutingChannel = S['RoutingChannel'];
export type DecisionTree = S['DecisionTree'];
export type Decision = DecisionTree['decisions'][number];
export type DryRun = S['RoutingDryRun'];
export type Destination = RoutingChannel['first'];
export type DestinationKind = Destination['kind'];
/** A decision of the same tree (its id) or a final destination. */
export type Target = string | Destination;
export type Weekday = keyof RoutingTimeGroup['weekly'];
export type TimeRange = RoutingTimeGroup['weekly']['monday'][number];

export const DESTINATION_KINDS: { kind: DestinationKind; label: string; collection: keyof RoutingDocument | null }[] = [
  { kind: 'queue', label: 'Queue', collection: 'queues' },
  { kind: 'time_condition', label: 'Time condition', collection: 'timeConditions' },
  { kind: 'decision_tree', label: 'Decision tree', collection: 'decisionTrees' },
  { kind: 'chatbot', label: 'Chatbot', collection: 'chatbots' },
  { kind: 'assistant', label: 'AI assistant', collection: null },
  { kind: 'terminate', label: 'End the chat', collection: 'terminates' },
];

/** A destination as a person reads it: "Queue Sales", "AI assistant", "End the chat". */
export function describeDestination(d: Destination, doc: RoutingDocument | null): string {
  const kind = DESTINATION_KINDS.find((k) => k.kind === d.kind);
  const label = kind?.label ?? d.kind;
  if (!d.id) return label;
  const list = kind?.collection && doc ? (doc[kind.collection] as { id: string; name?: string }[]) : [];
  const found = list.find((o) => o.id === d.id);
  return `${label} ${found?.name ?? `(unknown ${d.id})`}`;
}
