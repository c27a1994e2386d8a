// With payload encryption on, failures travel encrypted too: their message and stack trace are moved
// into an encoded attribute that the payload codec encrypts, so no text of a failure (which could name
// a HubSpot answer) is stored in Temporal history in the clear. Loaded by path (failureConverterPath)
// inside the workflow sandbox as well as by the worker and clients.
import { DefaultFailureConverter } from '@temporalio/common';

export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
