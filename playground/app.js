// The tracking dashboard: plain JavaScript, no build step, nothing from a CDN.
//
// Dispatch view (/): a live map of an area fed by the `fleet` subscription
// over graphql-transport-ws, a list of rides and counters; click the map to
// request a ride, cancel from the list.
// Rider view (/?ride=ID): follows one ride (`rideStatus`) and its driver
// (`driverLocation`), as a rider's phone would.
//
// URL parameters: token, lat, lng, radius (km), zoom, tiles (a tile URL
// template such as https://tiles.example/{z}/{x}/{y}.png; off by default),
// ride.
'use strict';

(() => {
  const params = new URLSearchParams(location.search);
  const number = (v, fallback) => (v !== null && v !== '' && Number.isFinite(Number(v)) ? Number(v) : fallback);
  const SANTIAGO = { lat: -33.4489, lng: -70.6693 };

  const state = {
    token: params.get('token') || localStorage.getItem('tracking.token') || '',
    center: { lat: number(params.get('lat'), SANTIAGO.lat), lng: number(params.get('lng'), SANTIAGO.lng) },
    area: null,
    radiusKm: Math.min(100, Math.max(0.1, number(params.get('radius'), 15))),
    zoom: number(params.get('zoom'), 12),
    tiles: params.get('tiles') || '',
    rideFocus: params.get('ride'),
    drivers: new Map(),
    rides: new Map(),
    matches: [],
    expired: 0,
    requested: 0,
    connection: 'connecting',
  };
  state.area = { ...state.center };
  if (params.get('token')) localStorage.setItem('tracking.token', params.get('token'));

  // ---------- GraphQL over HTTP ----------

  async function gql(query, variables) {
    const headers = { 'content-type': 'application/json' };
    if (state.token) headers.authorization = `Bearer ${state.token}`;
    const response = await fetch('/graphql', { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
    const body = await response.json();
    if (body.errors && body.errors.length) {
      const e = body.errors[0];
      throw new Error(`${e.extensions?.code || response.status}: ${e.message}`);
    }
    return body.data;
  }

  // ---------- GraphQL over WebSocket (graphql-transport-ws) ----------

  class Socket {
    constructor() {
      this.subs = new Map();
      this.nextId = 1;
      this.backoff = 500;
      this.ready = false;
      this.connect();
    }

    connect() {
      const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
      const ws = new WebSocket(url, 'graphql-transport-ws');
      this.ws = ws;
      this.ready = false;
      setConnection('connecting');
      ws.onopen = () => {
        const payload = state.token ? { authorization: `Bearer ${state.token}` } : {};
        ws.send(JSON.stringify({ type: 'connection_init', payload }));
      };
      ws.onmessage = (event) => {
        const message = JSON.parse(event.data);
        const sub = this.subs.get(message.id);
        switch (message.type) {
          case 'connection_ack':
            this.ready = true;
            this.backoff = 500;
            setConnection('connected');
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
      };
      ws.onclose = (event) => {
        if (this.ws !== ws) return;
        this.ready = false;
        setConnection(event.code === 4403 ? 'refused' : 'disconnected');
        setTimeout(() => this.connect(), this.backoff);
        this.backoff = Math.min(this.backoff * 2, 10000);
      };
    }

    reconnect() {
      const old = this.ws;
      this.ws = null;
      if (old) old.close();
      this.connect();
    }

    subscribe(query, variables, handlers) {
      const id = String(this.nextId++);
      const sub = { query, variables, ...handlers };
      this.subs.set(id, sub);
      if (this.ready) this.start(id, sub);
      return id;
    }

    start(id, sub) {
      this.ws.send(JSON.stringify({ id, type: 'subscribe', payload: { query: sub.query, variables: sub.variables } }));
    }
  }

  function setConnection(s) {
    state.connection = s;
    const el = document.getElementById('status');
    el.dataset.state = s;
    el.textContent = s === 'refused' ? 'refused: check the token' : s;
  }

  // ---------- Map: Web Mercator on SVG ----------

  const svg = document.getElementById('map');
  const NS = 'http://www.w3.org/2000/svg';
  const TILE = 256;

  function worldSize() {
    return TILE * 2 ** state.zoom;
  }

  function project(lat, lng) {
    const size = worldSize();
    const s = Math.sin((Math.max(-85.05112878, Math.min(85.05112878, lat)) * Math.PI) / 180);
    return {
      x: ((lng + 180) / 360) * size,
      y: (0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI)) * size,
    };
  }

  function unproject(x, y) {
    const size = worldSize();
    const lng = (x / size) * 360 - 180;
    const n = Math.PI - (2 * Math.PI * y) / size;
    const lat = (180 / Math.PI) * Math.atan(0.5 * (Math.exp(n) - Math.exp(-n)));
    return { lat, lng };
  }

  function toScreen(lat, lng) {
    const c = project(state.center.lat, state.center.lng);
    const p = project(lat, lng);
    return { x: p.x - c.x + svg.clientWidth / 2, y: p.y - c.y + svg.clientHeight / 2 };
  }

  function fromScreen(x, y) {
    const c = project(state.center.lat, state.center.lng);
    return unproject(x - svg.clientWidth / 2 + c.x, y - svg.clientHeight / 2 + c.y);
  }

  function distanceKm(a, b) {
    const r = Math.PI / 180;
    const dlat = (b.lat - a.lat) * r;
    const dlng = (b.lng - a.lng) * r;
    const h = Math.sin(dlat / 2) ** 2 + Math.cos(a.lat * r) * Math.cos(b.lat * r) * Math.sin(dlng / 2) ** 2;
    return 2 * 6372.797560856 * Math.asin(Math.min(1, Math.sqrt(h)));
  }

  function el(name, attrs, parent) {
    const node = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    parent.appendChild(node);
    return node;
  }

  let scheduled = false;
  function render() {
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(() => {
      scheduled = false;
      draw();
      drawPanel();
    });
  }

  function draw() {
    svg.textContent = '';
    const g = el('g', {}, svg);
    if (state.tiles) drawTiles(g);
    // The watched area and a scale bar.
    const center = toScreen(state.area.lat, state.area.lng);
    const edge = toScreen(state.area.lat + state.radiusKm / 111.2, state.area.lng);
    el('circle', { class: 'area', cx: center.x, cy: center.y, r: Math.abs(center.y - edge.y) }, g);
    const kmPx = Math.abs(toScreen(state.center.lat + 1 / 111.2, state.center.lng).y - svg.clientHeight / 2);
    const scaleKm = [0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50].find((k) => k * kmPx > 60) || 100;
    el('line', { class: 'scale', x1: 10, y1: 20, x2: 10 + scaleKm * kmPx, y2: 20 }, g);
    el('text', { class: 'label', x: 10, y: 14 }, g).textContent = `${scaleKm} km`;

    const rides = [...state.rides.values()].filter((r) => r.status === 'SEARCHING' || r.status === 'DRIVER_FOUND');
    for (const ride of rides) {
      const driver = ride.driver && state.drivers.get(ride.driver.id);
      if (ride.status === 'DRIVER_FOUND' && driver && driver.location) {
        const a = toScreen(driver.location.lat, driver.location.lng);
        const b = toScreen(ride.pickup.lat, ride.pickup.lng);
        el('line', { class: 'link', x1: a.x, y1: a.y, x2: b.x, y2: b.y }, g);
      }
    }
    for (const driver of state.drivers.values()) {
      if (!driver.location) continue;
      const p = toScreen(driver.location.lat, driver.location.lng);
      const dot = el('circle', { class: `driver ${driver.status}`, cx: p.x, cy: p.y, r: 5, 'data-driver-id': driver.id }, g);
      el('title', {}, dot).textContent = `${driver.id} ${driver.status}`;
    }
    for (const ride of rides) {
      const p = toScreen(ride.pickup.lat, ride.pickup.lng);
      const pin = el('rect', { class: `pickup ${ride.status}`, x: p.x - 6, y: p.y - 6, width: 12, height: 12, 'data-ride-id': ride.id }, g);
      el('title', {}, pin).textContent = `ride ${ride.id} ${ride.status}`;
    }
  }

  function drawTiles(g) {
    const z = Math.max(0, Math.min(19, Math.floor(state.zoom)));
    const scale = 2 ** (state.zoom - z);
    const c = project(state.center.lat, state.center.lng);
    const left = c.x - svg.clientWidth / 2;
    const top = c.y - svg.clientHeight / 2;
    const tilePx = TILE * scale;
    const n = 2 ** z;
    for (let tx = Math.floor(left / tilePx); tx <= Math.floor((left + svg.clientWidth) / tilePx); tx++) {
      for (let ty = Math.max(0, Math.floor(top / tilePx)); ty <= Math.min(n - 1, Math.floor((top + svg.clientHeight) / tilePx)); ty++) {
        const x = ((tx % n) + n) % n;
        const href = state.tiles.replace('{z}', z).replace('{x}', x).replace('{y}', ty);
        el('image', { href, x: tx * tilePx - left, y: ty * tilePx - top, width: tilePx, height: tilePx }, g);
      }
    }
  }

  // Pan by dragging, zoom with the wheel, request a ride with a click.
  let drag = null;
  svg.addEventListener('pointerdown', (e) => {
    drag = { x: e.clientX, y: e.clientY, moved: 0, center: { ...state.center } };
    svg.setPointerCapture(e.pointerId);
  });
  svg.addEventListener('pointermove', (e) => {
    if (!drag) return;
    const dx = e.clientX - drag.x;
    const dy = e.clientY - drag.y;
    drag.moved = Math.max(drag.moved, Math.hypot(dx, dy));
    const c = project(drag.center.lat, drag.center.lng);
    state.center = unproject(c.x - dx, c.y - dy);
    render();
  });
  svg.addEventListener('pointerup', (e) => {
    const wasClick = drag && drag.moved < 4;
    drag = null;
    if (wasClick && !state.rideFocus) {
      const rect = svg.getBoundingClientRect();
      requestRide(fromScreen(e.clientX - rect.left, e.clientY - rect.top));
    }
  });
  svg.addEventListener('wheel', (e) => {
    e.preventDefault();
    const rect = svg.getBoundingClientRect();
    const at = fromScreen(e.clientX - rect.left, e.clientY - rect.top);
    state.zoom = Math.max(3, Math.min(19, state.zoom - Math.sign(e.deltaY) * 0.5));
    // Keep the point under the cursor where it was.
    const p = project(at.lat, at.lng);
    state.center = unproject(p.x - (e.clientX - rect.left) + svg.clientWidth / 2, p.y - (e.clientY - rect.top) + svg.clientHeight / 2);
    render();
  }, { passive: false });
  window.addEventListener('resize', render);

  // ---------- Rides and counters ----------

  const RIDE_FIELDS = 'id riderId status createdAt expiresAt distanceKm pickup { lat lng } driver { id status location { lat lng } }';
  const DRIVER_FIELDS = 'id status rideId updatedAt location { lat lng }';

  // `live`: the change happened now (an event), not before the page
  // opened (a snapshot); only live matches count toward the rates.
  function applyRide(ride, live) {
    const before = state.rides.get(ride.id);
    // A ride only moves forward; an answer that arrives after a newer event
    // (the mutation's reply after the subscription's match) is stale.
    if (before && stage(ride.status) < stage(before.status)) return;
    if (live && ride.status === 'DRIVER_FOUND' && (!before || before.status === 'SEARCHING')) {
      state.matches.push({ at: Date.now(), waitedMs: Date.now() - Date.parse(ride.createdAt) });
      if (state.matches.length > 500) state.matches.shift();
    }
    if (live && ride.status === 'EXPIRED' && (!before || before.status !== 'EXPIRED')) state.expired += 1;
    state.rides.set(ride.id, ride);
    if (ride.driver && ride.driver.location && !state.drivers.has(ride.driver.id)) {
      state.drivers.set(ride.driver.id, ride.driver);
    }
  }

  function stage(status) {
    return status === 'SEARCHING' ? 0 : status === 'DRIVER_FOUND' ? 1 : 2;
  }

  async function requestRide(at) {
    state.requested += 1;
    const rider = `dashboard-${state.requested}`;
    try {
      const data = await gql(
        `mutation($r: ID!, $lat: Float!, $lng: Float!) { requestDriver(riderId: $r, lat: $lat, lng: $lng) { ${RIDE_FIELDS} } }`,
        { r: rider, lat: at.lat, lng: at.lng },
      );
      applyRide(data.requestDriver, true);
      render();
    } catch (error) {
      alert(`could not request a ride: ${error.message}`);
    }
  }

  async function cancelRide(id) {
    try {
      const data = await gql(`mutation($id: ID!) { cancelRequest(rideId: $id) { ${RIDE_FIELDS} } }`, { id });
      applyRide(data.cancelRequest, true);
      render();
    } catch (error) {
      alert(`could not cancel: ${error.message}`);
    }
  }

  function age(ms) {
    const s = Math.max(0, Math.round(ms / 1000));
    return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  }

  function drawPanel() {
    const drivers = [...state.drivers.values()];
    const rides = [...state.rides.values()];
    const now = Date.now();
    const count = (list, key, value) => list.filter((x) => x[key] === value).length;
    document.getElementById('n-available').textContent = count(drivers, 'status', 'AVAILABLE');
    document.getElementById('n-assigned').textContent = count(drivers, 'status', 'ASSIGNED');
    document.getElementById('n-searching').textContent = count(rides, 'status', 'SEARCHING');
    document.getElementById('n-matched').textContent = count(rides, 'status', 'DRIVER_FOUND');
    document.getElementById('n-expired').textContent = state.expired;
    document.getElementById('n-per-minute').textContent = state.matches.filter((m) => now - m.at < 60000).length;
    const waits = state.matches.map((m) => m.waitedMs).sort((a, b) => a - b);
    const median = waits[Math.floor(waits.length / 2)];
    document.getElementById('median-match').textContent =
      median === undefined ? '–' : median < 1000 ? `${median}ms` : age(median);

    const body = document.querySelector('#rides tbody');
    body.textContent = '';
    rides
      .sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt))
      .slice(0, 200)
      .forEach((ride) => {
        const row = document.createElement('tr');
        row.dataset.rideId = ride.id;
        row.dataset.status = ride.status;
        const cells = [ride.id, ride.status, age(now - Date.parse(ride.createdAt)), ride.driver ? ride.driver.id : ''];
        cells.forEach((text, i) => {
          const td = document.createElement('td');
          if (i === 1) td.className = 'status';
          td.textContent = text;
          row.appendChild(td);
        });
        const td = document.createElement('td');
        if (ride.status === 'SEARCHING' || ride.status === 'DRIVER_FOUND') {
          const button = document.createElement('button');
          button.className = 'cancel';
          button.textContent = 'cancel';
          button.onclick = () => cancelRide(ride.id);
          td.appendChild(button);
          const follow = document.createElement('a');
          follow.href = `/?ride=${encodeURIComponent(ride.id)}`;
          follow.target = '_blank';
          follow.textContent = ' follow';
          td.appendChild(follow);
        }
        row.appendChild(td);
        body.appendChild(row);
      });
  }
  setInterval(drawPanel, 1000);

  // ---------- Views ----------

  const socket = new Socket();

  function showError(payload) {
    const errors = Array.isArray(payload) ? payload : payload.errors || [payload];
    const e = errors[0] || {};
    document.getElementById('mode').textContent = `${e.extensions?.code || 'error'}: ${e.message || ''}`;
  }

  function dispatchView() {
    socket.subscribe(
      `subscription($lat: Float!, $lng: Float!, $r: Float!) { fleet(lat: $lat, lng: $lng, radiusKm: $r) { kind resync drivers { ${DRIVER_FIELDS} } rides { ${RIDE_FIELDS} } } }`,
      { lat: state.area.lat, lng: state.area.lng, r: state.radiusKm },
      {
        onNext(payload) {
          if (payload.errors) return showError(payload);
          const event = payload.data.fleet;
          if (event.kind === 'SNAPSHOT') {
            state.drivers.clear();
            for (const [id, ride] of state.rides) {
              if (ride.status === 'SEARCHING' || ride.status === 'DRIVER_FOUND') state.rides.delete(id);
            }
          }
          for (const driver of event.drivers) {
            const inside = driver.location && distanceKm(state.area, driver.location) <= state.radiusKm;
            if (inside || driver.status === 'ASSIGNED') state.drivers.set(driver.id, driver);
            else state.drivers.delete(driver.id);
          }
          for (const ride of event.rides) applyRide(ride, event.kind !== 'SNAPSHOT');
          render();
        },
        onError: showError,
      },
    );
  }

  function riderView(id) {
    document.getElementById('mode').textContent = 'rider';
    document.getElementById('rider-panel').hidden = false;
    document.getElementById('rides-panel').hidden = true;
    document.getElementById('counters').hidden = true;
    document.getElementById('map-help').textContent = 'drag to pan · wheel to zoom';
    document.getElementById('rider-ride').textContent = id;
    let centred = false;
    const describe = () => {
      const ride = state.rides.get(id);
      if (!ride) return;
      document.getElementById('rider-status').textContent = ride.status.replace('_', ' ');
      const driver = ride.driver && state.drivers.get(ride.driver.id);
      document.getElementById('rider-driver').textContent = driver && driver.location
        ? `driver ${driver.id}, ${distanceKm(driver.location, ride.pickup).toFixed(2)} km away`
        : ride.status === 'SEARCHING' ? 'looking for the nearest driver…' : '';
    };
    socket.subscribe(`subscription($id: ID!) { rideStatus(rideId: $id) { ${RIDE_FIELDS} } }`, { id }, {
      onNext(payload) {
        if (payload.errors) return showError(payload);
        const ride = payload.data.rideStatus;
        applyRide(ride, centred);
        if (!centred) {
          state.center = { ...ride.pickup };
          state.area = { ...ride.pickup };
          state.zoom = Math.max(state.zoom, 14);
          centred = true;
        }
        describe();
        render();
      },
      onError: showError,
    });
    socket.subscribe(`subscription($id: ID!) { driverLocation(rideId: $id) { ${DRIVER_FIELDS} } }`, { id }, {
      onNext(payload) {
        if (payload.errors) return;
        const driver = payload.data.driverLocation;
        state.drivers.set(driver.id, driver);
        describe();
        render();
      },
      onError() {},
    });
  }

  document.getElementById('token').value = state.token;
  document.getElementById('token-form').addEventListener('submit', (e) => {
    e.preventDefault();
    state.token = document.getElementById('token').value.trim();
    localStorage.setItem('tracking.token', state.token);
    socket.reconnect();
  });

  if (state.rideFocus) riderView(state.rideFocus);
  else dispatchView();
  render();
})();
