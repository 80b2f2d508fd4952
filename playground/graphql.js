// GraphQL over HTTP, and the documents the dashboard sends.
//
// The field selections are spelled once here; the views only name the
// operation they want.

export const RIDE_FIELDS =
  'id riderId status createdAt expiresAt endedAt distanceKm pickup { lat lng } dropoff { lat lng } ' +
  'driver { id status location { lat lng } } offer { expiresAt driver { id } } lastOfferEnd';
export const DRIVER_FIELDS = 'id status rideId updatedAt location { lat lng }';

export const FLEET = `subscription($lat: Float!, $lng: Float!, $r: Float!) {
  fleet(lat: $lat, lng: $lng, radiusKm: $r) { kind resync drivers { ${DRIVER_FIELDS} } rides { ${RIDE_FIELDS} } }
}`;
export const RIDE_STATUS = `subscription($id: ID!) { rideStatus(rideId: $id) { ${RIDE_FIELDS} } }`;
export const DRIVER_LOCATION = `subscription($id: ID!) { driverLocation(rideId: $id) { ${DRIVER_FIELDS} } }`;
export const REQUEST_DRIVER = `mutation($r: ID!, $lat: Float!, $lng: Float!) {
  requestDriver(riderId: $r, lat: $lat, lng: $lng) { ${RIDE_FIELDS} }
}`;
export const AREAS = '{ areas { id name boundary availableDrivers searchingRides } }';
export const CANCEL_REQUEST = `mutation($id: ID!) { cancelRequest(rideId: $id) { ${RIDE_FIELDS} } }`;

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
