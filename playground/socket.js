// GraphQL over WebSocket (graphql-transport-ws), reconnecting with backoff.
//
// It knows nothing of the page: it reports its state through `onState`
// ('connecting', 'connected', 'disconnected', 'refused') and hands each
// subscription's results to the handlers it was given. Subscriptions are
// started again after every reconnect.

const FIRST_BACKOFF_MS = 500;
const MAX_BACKOFF_MS = 10000;
const FORBIDDEN = 4403;

export class Socket {
  /// `token()` is read at every (re)connect; `onState(state)` is told of
  /// every change.
  constructor(url, { token, onState }) {
    this.url = url;
    this.token = token;
    this.onState = onState;
    this.subs = new Map();
    this.nextId = 1;
    this.backoff = FIRST_BACKOFF_MS;
    this.ready = false;
    this.connect();
  }

  connect() {
    const ws = new WebSocket(this.url, 'graphql-transport-ws');
    this.ws = ws;
    this.ready = false;
    this.onState('connecting');
    ws.onopen = () => {
      const token = this.token();
      const payload = token ? { authorization: `Bearer ${token}` } : {};
      ws.send(JSON.stringify({ type: 'connection_init', payload }));
    };
    ws.onmessage = (event) => this.receive(ws, JSON.parse(event.data));
    ws.onclose = (event) => {
      if (this.ws !== ws) return;
      this.ready = false;
      this.onState(event.code === FORBIDDEN ? 'refused' : 'disconnected');
      setTimeout(() => this.connect(), this.backoff);
      this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF_MS);
    };
  }

  receive(ws, message) {
    const sub = this.subs.get(message.id);
    switch (message.type) {
      case 'connection_ack':
        this.ready = true;
        this.backoff = FIRST_BACKOFF_MS;
        this.onState('connected');
        for (const [id, s] of this.subs) this.start(id, s);
        break;
      case 'ping':
        ws.send(JSON.stringify({ type: 'pong' }));
        break;
      case 'next':
        if (sub) sub.onNext(message.payload);
        break;
      case 'error':
        if (sub) sub.onError(message.payload);
        break;
      case 'complete':
        this.subs.delete(message.id);
        if (sub && sub.onComplete) sub.onComplete();
        break;
    }
  }

  /// Connects again now (after the token changed).
  reconnect() {
    const old = this.ws;
    this.ws = null;
    if (old) old.close();
    this.connect();
  }

  /// Subscribes; `handlers` has onNext(payload), onError(payload) and
  /// optionally onComplete().
  subscribe(query, variables, handlers) {
    const id = String(this.nextId++);
    const sub = { query, variables, ...handlers };
    this.subs.set(id, sub);
    if (this.ready) this.start(id, sub);
    return id;
  }

  /// Stops a subscription (the server is told; a reconnect will not
  /// start it again).
  unsubscribe(id) {
    if (!this.subs.delete(id)) return;
    if (this.ready) this.ws.send(JSON.stringify({ id, type: 'complete' }));
  }

  start(id, sub) {
    this.ws.send(JSON.stringify({ id, type: 'subscribe', payload: { query: sub.query, variables: sub.variables } }));
  }
}
