// The main job's development mode, loaded only when nothing is configured (no HUBSPOT_ACCOUNTS): the
// HubSpot emulator with its demo account, and the demos played against it. The only product code that
// loads the emulator; src/worker/main.ts imports this module dynamically, so production never does.
export { startHubSpotEmulator, DEMO_ACCOUNT, type HubSpotEmulator } from '../../../hubspot-emulator';
export { runDemo } from './demo';
export { playDemoOnNewConnections } from './connected-account-demo';
