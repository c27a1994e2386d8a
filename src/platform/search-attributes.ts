// Custom search attributes of conversation workflows. Operators filter on them in the Web UI.
// They never carry personal data (no email, phone or summary).
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const ConversationIdAttr = defineSearchAttributeKey('ConversationId', SearchAttributeType.KEYWORD);
export const ChannelAttr = defineSearchAttributeKey('ConversationChannel', SearchAttributeType.KEYWORD);
export const StatusAttr = defineSearchAttributeKey('ConversationStatus', SearchAttributeType.KEYWORD);
export const SyncStatusAttr = defineSearchAttributeKey('SyncStatus', SearchAttributeType.KEYWORD);
export const HubSpotAccountsAttr = defineSearchAttributeKey('HubSpotAccountIds', SearchAttributeType.KEYWORD_LIST);

export const conversationSearchAttributes = [
  ConversationIdAttr,
  ChannelAttr,
  StatusAttr,
  SyncStatusAttr,
  HubSpotAccountsAttr,
];
