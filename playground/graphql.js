// GraphQL over HTTP, and the documents the dashboard sends (the views only
// name the operation they want).

// The documents the dashboard sends live in documents.json, which the
// service also lists for operators who run only trusted documents
// (`tracking persisted-documents`); it serves that file as documents.js.
import DOCUMENTS from './documents.js';

export const {
  fleet: FLEET,
  rideStatus: RIDE_STATUS,
  driverLocation: DRIVER_LOCATION,
  requestDriver: REQUEST_DRIVER,
  areas: AREAS,
  cancelRequest: CANCEL_REQUEST,
  pickupRoute: PICKUP_ROUTE,
} = DOCUMENTS;

/// A GraphQL error, with its machine-readable code.
export class GraphQLError extends Error {
  constructor(code, message) {
    super(`${code}: ${message}`);
    this.code = code;
  }
}

/// Posts a document to /graphql; resolves to its `data`, or throws a
/// GraphQLError (the first error's code, or the HTTP status).
export async function gql(query, variables, token) {
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch('/graphql', { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  const body = await response.json();
  if (body.errors && body.errors.length) {
    const e = body.errors[0];
    throw new GraphQLError(e.extensions?.code || String(response.status), e.message);
  }
  return body.data;
}

/// The service's limits (`GET /config`), so that nothing here copies them.
export async function serviceConfig() {
  const response = await fetch('/config');
  if (!response.ok) throw new Error(`GET /config: ${response.status}`);
  return response.json();
}
