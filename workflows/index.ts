// The worker's workflow entry point: every workflow type this worker serves.
export { conversationWorkflow } from './conversation';
