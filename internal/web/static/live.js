// Préau live class client: the room page's behaviour. It speaks the
// WebSocket protocol of internal/liveclass/signal, keeps the room's state
// from the welcome's snapshot and the numbered events that follow, resumes
// after a lost connection from the last event it applied, and runs two
// WebRTC connections with the node (one to receive, one to publish, as
// LiveKit does). Everything it shows is built with textContent: nothing
// a participant types is ever parsed as HTML.
(() => {
  'use strict';
  const root = document.getElementById('live');
  if (!root || !window.WebSocket) return;
  const S = JSON.parse(document.getElementById('live-strings').textContent);
  const $ = (id) => document.getElementById(id);
  const classID = root.dataset.class;
  const me = root.dataset.me;
  const host = root.dataset.role === 'host';
  const staff = host || root.dataset.role === 'guest';
  const seqKey = 'preau-live-' + classID;

  // t renders a message: "one|other" plurals on the first number, then
  // %d and %s in order.
  function t(key, ...args) {
    let s = S[key] || key;
    if (s.includes('|')) {
      const [one, other] = s.split('|');
      const n = args.find((a) => typeof a === 'number');
      s = n !== undefined && n <= 1 ? one : other;
    }
    let i = 0;
    return s.replace(/%[ds]/g, () => String(args[i++]));
  }

  const state = {
    seq: 0, you: null, room: null, position: 0,
    people: new Map(), waiting: [], chat: [], polls: [], strokes: new Map(), slide: {},
  };
  let ws = null, backoff = 1000, over = false, iceServers = [], pingTimer = 0, retryTimer = 0;

  // --- connection ---------------------------------------------------------
  function send(msg) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg));
  }
  function setStatus(key, ...args) { $('status').textContent = t(key, ...args); }
  // showError shows a refusal's message; its code stays on the element
  // for support and the browser tests.
  function showError(text, code) {
    const el = $('live-error');
    el.textContent = text;
    el.dataset.code = code || '';
    el.hidden = !text;
  }

  function connect(resume) {
    const scheme = location.protocol === 'https:' ? 'wss://' : 'ws://';
    ws = new WebSocket(scheme + location.host + '/live/' + classID + '/ws');
    ws.onopen = () => {
      const last = resume ? state.seq : Number(sessionStorage.getItem(seqKey) || 0);
      const hello = { type: 'hello' };
      if (last > 0) hello.last_seq = last;
      if (resume && last > 0) hello.resume = true;
      send(hello);
      clearInterval(pingTimer);
      pingTimer = setInterval(() => send(state.seq > 0 ? { type: 'ping', last_seq: state.seq } : { type: 'ping' }), 20000);
    };
    ws.onmessage = (e) => {
      let m;
      try { m = JSON.parse(e.data); } catch (_) { return; }
      handle(m).catch((err) => console.error('live:', err));
    };
    ws.onclose = () => {
      clearInterval(pingTimer);
      closeMedia();
      enable(false);
      if (over) return;
      setStatus('status.reconnecting');
      retryTimer = setTimeout(() => { retryTimer = 0; connect(state.you !== null); }, backoff + Math.random() * 500);
      backoff = Math.min(backoff * 2, 15000);
    };
  }
  // When the device says it is back online, try at once rather than wait
  // out a backoff that may have grown to 15 s.
  window.addEventListener('online', () => {
    if (!retryTimer || over) return;
    clearTimeout(retryTimer);
    retryTimer = 0;
    connect(state.you !== null);
  });

  function end(key) {
    over = true;
    setStatus(key);
    enable(false);
    closeMedia();
    stopLocal();
    if (ws) ws.close();
  }

  function setSeq(seq) {
    if (seq > state.seq) {
      state.seq = seq;
      sessionStorage.setItem(seqKey, String(seq));
    }
  }

  async function handle(m) {
    switch (m.type) {
      case 'welcome':
        backoff = 1000;
        state.you = m.you;
        iceServers = (m.ice_servers || []).map((s) => ({ urls: s.urls, username: s.username, credential: s.credential }));
        // Without a snapshot (a resume) the missed events follow, and
        // each one moves the seq as it is applied: taking the welcome's
        // seq now would skip them on the next resume if the line drops
        // again before they arrive.
        if (m.snapshot) {
          applySnapshot(m.snapshot);
          setSeq(m.seq);
        }
        afterChange();
        break;
      case 'snapshot':
        applySnapshot(m.snapshot);
        setSeq(m.seq);
        afterChange();
        break;
      case 'event':
        apply(m.kind, m.data);
        if (m.seq) setSeq(m.seq);
        afterChange(m.kind);
        break;
      case 'error':
        showError(m.message, m.code);
        if (m.code === 'removed') end('status.removed');
        else if (m.code === 'room_ended') end('status.ended');
        else if (m.code === 'replaced') end('status.replaced');
        // A locked room runs on without this participant: saying it
        // ended would send a pupil away who could ask to be let in.
        else if (m.code === 'room_locked') end('status.locked');
        else if (m.code === 'not_enrolled') end('status.ended');
        break;
      case 'queued':
        setStatus('status.queued', m.position);
        break;
      case 'sub_offer':
        await onSubOffer(m.sdp);
        break;
      case 'pub_answer':
        if (pcPub) await pcPub.setRemoteDescription({ type: 'answer', sdp: m.sdp });
        break;
      case 'ice':
        await onRemoteCandidate(m.target, m.candidate);
        break;
    }
  }

  // --- state ----------------------------------------------------------------
  function applySnapshot(s) {
    state.room = s.room;
    state.you = s.you ? s.you.id : state.you;
    state.position = s.position || 0;
    state.people = new Map();
    for (const p of s.participants || []) state.people.set(p.id, p);
    if (s.you && s.you.id) state.people.set(s.you.id, s.you);
    state.waiting = s.waiting || [];
    state.chat = s.chat || [];
    state.polls = s.polls || [];
    state.strokes = new Map();
    for (const st of s.strokes || []) state.strokes.set(st.id, st);
    state.slide = s.slide || {};
    renderChat(true);
    drawBoard();
  }

  function apply(kind, d) {
    const p = d && d.participant ? state.people.get(d.participant) : null;
    switch (kind) {
      case 'joined': state.people.set(d.id, d); break;
      case 'presence':
        if (p) p.presence = d.presence;
        if (d.presence === 'left') state.people.delete(d.participant);
        break;
      case 'removed':
        state.people.delete(d.participant);
        if (d.participant === me) end('status.removed');
        break;
      case 'waiting': state.waiting = d.waiting || []; break;
      case 'queued': state.position = d.position; break;
      case 'admitted': state.position = 0; break;
      case 'hand': if (p) p.hand_raised_at = d.raised ? d.at : undefined; break;
      case 'hands_lowered': for (const q of state.people.values()) q.hand_raised_at = undefined; break;
      case 'permissions': if (p) p.permissions = d.permissions; break;
      case 'muted_all':
        for (const id of d.participants || []) {
          const q = state.people.get(id);
          if (q && q.permissions) q.permissions.mic = false;
        }
        break;
      case 'lock': if (state.room) state.room.locked = d.locked; break;
      case 'chat': state.chat.push(d); if (state.chat.length > 500) state.chat.shift(); renderChat(false, d); break;
      case 'reaction': {
        const who = state.people.get(d.participant);
        $('reaction-log').textContent = t('reaction_from', who ? who.name : '', t('reaction.' + d.reaction));
        break;
      }
      case 'poll_opened': case 'poll_closed': {
        const i = state.polls.findIndex((x) => x.id === d.id);
        if (i >= 0) state.polls[i] = Object.assign(state.polls[i], d); else state.polls.push(d);
        break;
      }
      case 'poll_vote': { const x = state.polls.find((q) => q.id === d.poll); if (x) x.your_vote = d.option; break; }
      case 'poll_results': { const x = state.polls.find((q) => q.id === d.poll); if (x) { x.counts = d.counts; x.voters = d.voters; } break; }
      case 'stroke': state.strokes.set(d.id, d); drawBoard(); break;
      case 'stroke_undone': state.strokes.delete(d.stroke); drawBoard(); break;
      case 'board_cleared': state.strokes.clear(); drawBoard(); break;
      case 'slide': state.slide = d; break;
      case 'media': if (p) p.media = d.mode; break;
      case 'ended': end('status.ended'); break;
    }
  }

  function mine() { return state.people.get(me) || { permissions: {} }; }

  // afterChange redraws what may have changed and follows the media.
  function afterChange(kind) {
    const you = mine();
    const waiting = you.presence === 'waiting' || state.position > 0;
    $('waiting-notice').hidden = !waiting;
    if (waiting) $('waiting-text').textContent = t('status.waiting') + ' ' + t('waiting_position', state.position || 1);
    if (!over) setStatus(waiting ? 'status.waiting' : 'status.connected');
    enable(!over && !waiting);
    renderPeople();
    renderPoll();
    renderSlide();
    renderControls();
    if (!waiting && !over) syncPublisher();
  }

  function enable(on) {
    for (const id of ['hand', 'mode', 'chat-text', 'chat-send']) { const el = $(id); if (el) el.disabled = !on; }
    for (const b of root.querySelectorAll('[data-reaction]')) b.disabled = !on;
    for (const id of ['camera', 'screen']) { const el = $(id); if (el) el.disabled = !on; }
  }

  // --- rendering ------------------------------------------------------------
  function el(tag, props, ...kids) {
    const e = document.createElement(tag);
    Object.assign(e, props || {});
    for (const k of kids) if (k !== null && k !== undefined) e.append(k);
    return e;
  }
  function button(label, onClick, extra) {
    const b = el('button', Object.assign({ type: 'button', textContent: label }, extra || {}));
    b.addEventListener('click', onClick);
    return b;
  }

  function renderPeople() {
    const list = $('people');
    list.replaceChildren();
    const people = [...state.people.values()].filter((p) => p.presence !== 'left' && p.presence !== 'waiting');
    people.sort((a, b) => (a.role === b.role ? a.name.localeCompare(b.name) : a.role === 'host' ? -1 : 1));
    $('count').textContent = '(' + people.length + ')';
    for (const p of people) {
      const perms = p.permissions || {};
      const bits = [t('role.' + p.role)];
      if (p.hand_raised_at) bits.push('✋ ' + t('hand_raised'));
      if (perms.mic && p.role === 'student') bits.push('🎤');
      if (p.presence === 'disconnected') bits.push(t('presence.disconnected'));
      else if (p.media) bits.push(t('media.' + p.media));
      const li = el('li', { className: p.hand_raised_at ? 'hand' : '' },
        el('strong', { textContent: p.name + (p.id === me ? ' ' + t('you') : '') }), ' — ', bits.join(' · '));
      li.dataset.participant = p.id;
      if (host && p.id !== me && p.role !== 'host') {
        const tools = el('span', { className: 'tools' });
        tools.append(button(perms.mic ? t('revoke_mic') : t('grant_mic'), () => send({ type: 'grant', participant: p.id, mic: !perms.mic })));
        tools.append(button(perms.whiteboard ? t('revoke_board') : t('grant_board'), () => send({ type: 'grant', participant: p.id, whiteboard: !perms.whiteboard })));
        if (p.hand_raised_at) tools.append(button(t('lower_hand'), () => send({ type: 'lower_hand', participant: p.id })));
        tools.append(button(t('remove'), () => send({ type: 'remove', participant: p.id }), { className: 'danger' }));
        li.append(' ', tools);
      }
      list.append(li);
    }
    const w = $('waiting');
    if (w) {
      w.hidden = state.waiting.length === 0;
      const wl = $('waiting-list');
      wl.replaceChildren();
      for (const x of state.waiting) {
        wl.append(el('li', {}, x.name, ' ', button(t('admit'), () => send({ type: 'admit', participant: x.id })),
          ' ', button(t('remove'), () => send({ type: 'remove', participant: x.id }))));
      }
    }
  }

  function renderChat(all, one) {
    const list = $('chat');
    const line = (m) => {
      const who = m.name + (m.role === 'host' ? ' (' + t('role.host') + ')' : '');
      const time = new Date(m.at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
      return el('li', {}, el('span', { className: 'who', textContent: t('chat_from', who, time) }), ' ', el('span', { textContent: m.text }));
    };
    if (all) {
      list.replaceChildren(...state.chat.map(line));
    } else if (one) {
      list.append(line(one));
      while (list.children.length > 500) list.firstChild.remove();
    }
    list.scrollTop = list.scrollHeight;
  }

  function renderPoll() {
    const box = $('poll');
    box.replaceChildren();
    const poll = [...state.polls].reverse().find((p) => p.open) || state.polls[state.polls.length - 1];
    if (!poll) {
      box.append(el('p', { className: 'empty', textContent: t('no_poll') }));
      return;
    }
    const fs = el('fieldset', {}, el('legend', { textContent: poll.question }));
    poll.options.forEach((o, i) => {
      const id = 'poll-' + poll.id + '-' + i;
      const r = el('input', { type: 'radio', name: 'poll-' + poll.id, id, value: String(i), disabled: !poll.open || over });
      if (poll.your_vote === i) r.checked = true;
      r.addEventListener('change', () => send({ type: 'poll_vote', poll_id: poll.id, option: i }));
      const count = poll.counts ? ' — ' + poll.counts[i] : '';
      fs.append(el('p', {}, r, ' ', el('label', { htmlFor: id, textContent: o + count })));
    });
    box.append(fs);
    if (poll.counts) box.append(el('p', { textContent: t('voters', poll.voters || 0) }));
    if (host && poll.open) box.append(button(t('poll_close'), () => send({ type: 'poll_close', poll_id: poll.id })));
  }

  function renderSlide() {
    const s = state.slide || {};
    const img = $('slide');
    if (s.deck) {
      const src = '/live/' + classID + '/decks/' + s.deck + '/' + s.page;
      if (img.getAttribute('src') !== src) img.src = src;
      img.alt = t('page_of', s.page, s.pages);
      img.hidden = false;
      $('page').textContent = t('page_of', s.page, s.pages);
      $('slide-nav').hidden = !host;
    } else {
      img.hidden = true;
      $('slide-nav').hidden = true;
    }
  }

  function renderControls() {
    const you = mine();
    const perms = you.permissions || {};
    const hand = $('hand');
    hand.setAttribute('aria-pressed', you.hand_raised_at ? 'true' : 'false');
    const mic = $('mic');
    mic.hidden = !perms.mic;
    mic.disabled = !perms.mic || over;
    $('board-tools').hidden = !perms.whiteboard;
    board.style.cursor = perms.whiteboard ? 'crosshair' : 'default';
    // A finger on the board draws for those allowed to, and scrolls the
    // page for the others (a scroll would cancel the stroke).
    board.style.touchAction = perms.whiteboard ? 'none' : 'auto';
    const lock = $('lock');
    if (lock && state.room) lock.setAttribute('aria-pressed', state.room.locked ? 'true' : 'false');
    if (!perms.mic && local.mic) stopTrack('mic');
    $('my-media').textContent = you.media ? ' · ' + t('media.' + you.media) : '';
  }

  // --- whiteboard -----------------------------------------------------------
  const board = $('board');
  const ctx = board.getContext('2d');
  const colours = { black: '#1b1f24', white: '#ffffff', red: '#c0261d', orange: '#d9700b', yellow: '#e0b400', green: '#1d6b34', blue: '#1f5fbf', purple: '#6b2fa6' };
  function drawStroke(s) {
    const pts = s.points;
    if (!pts || pts.length < 2) return;
    ctx.strokeStyle = colours[s.color] || '#000';
    ctx.lineWidth = s.color === 'white' ? s.width * 4 : s.width;
    ctx.lineCap = ctx.lineJoin = 'round';
    ctx.beginPath();
    ctx.moveTo(pts[0] * board.width / 10000, pts[1] * board.height / 10000);
    for (let i = 2; i < pts.length; i += 2) ctx.lineTo(pts[i] * board.width / 10000, pts[i + 1] * board.height / 10000);
    if (pts.length === 2) ctx.lineTo(pts[0] * board.width / 10000 + 0.1, pts[1] * board.height / 10000);
    ctx.stroke();
  }
  function drawBoard() {
    ctx.clearRect(0, 0, board.width, board.height);
    for (const s of state.strokes.values()) drawStroke(s);
  }
  let drawing = null;
  function boardPoint(e) {
    const r = board.getBoundingClientRect();
    const x = Math.round(Math.min(Math.max((e.clientX - r.left) / r.width, 0), 1) * 10000);
    const y = Math.round(Math.min(Math.max((e.clientY - r.top) / r.height, 0), 1) * 10000);
    return [x, y];
  }
  board.addEventListener('pointerdown', (e) => {
    if (!(mine().permissions || {}).whiteboard || over) return;
    board.setPointerCapture(e.pointerId);
    drawing = { color: $('color').value, width: Number($('width').value), points: boardPoint(e) };
  });
  board.addEventListener('pointermove', (e) => {
    if (!drawing || drawing.points.length >= 4000) return;
    const [x, y] = boardPoint(e);
    const n = drawing.points.length;
    if (Math.abs(x - drawing.points[n - 2]) + Math.abs(y - drawing.points[n - 1]) < 20) return;
    drawing.points.push(x, y);
    drawStroke({ color: drawing.color, width: drawing.width, points: drawing.points.slice(n - 2) });
  });
  const finishStroke = () => {
    if (!drawing) return;
    send({ type: 'stroke', color: drawing.color, width: drawing.width, points: drawing.points });
    drawing = null;
  };
  board.addEventListener('pointerup', finishStroke);
  board.addEventListener('pointercancel', finishStroke);
  $('undo').addEventListener('click', () => send({ type: 'stroke_undo' }));
  if ($('clear')) $('clear').addEventListener('click', () => send({ type: 'board_clear' }));

  // --- controls ---------------------------------------------------------------
  $('hand').addEventListener('click', () => send({ type: 'hand', raised: !mine().hand_raised_at }));
  for (const b of root.querySelectorAll('[data-reaction]')) b.addEventListener('click', () => send({ type: 'react', reaction: b.dataset.reaction }));
  $('mode').addEventListener('change', (e) => send({ type: 'media_mode', mode: e.target.value }));
  $('leave').addEventListener('click', () => { send({ type: 'leave' }); end('status.ended'); location.href = '/live'; });
  $('chat-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const input = $('chat-text');
    const text = input.value.trim();
    if (!text) return;
    send({ type: 'chat', text });
    input.value = '';
  });
  if (host) {
    $('mute-all').addEventListener('click', () => send({ type: 'mute_all' }));
    $('lower-all').addEventListener('click', () => send({ type: 'lower_all' }));
    $('admit-all').addEventListener('click', () => send({ type: 'admit', all: true }));
    $('lock').addEventListener('click', () => send({ type: 'lock', locked: !(state.room && state.room.locked) }));
    $('prev').addEventListener('click', () => { if (state.slide.page > 1) send({ type: 'slide', page: state.slide.page - 1 }); });
    $('next').addEventListener('click', () => { if (state.slide.page < state.slide.pages) send({ type: 'slide', page: state.slide.page + 1 }); });
    $('poll-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const options = $('poll-o').value.split('\n').map((s) => s.trim()).filter(Boolean);
      send({ type: 'poll_create', question: $('poll-q').value.trim(), options });
      $('poll-q').value = '';
      $('poll-o').value = '';
    });
    // The PDF goes up in the background with its progress shown; without
    // JavaScript the same form posts and comes back to the room.
    $('slides-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const form = e.target;
      const xhr = new XMLHttpRequest();
      xhr.open('POST', form.action);
      xhr.setRequestHeader('Accept', 'application/json');
      xhr.upload.onprogress = (p) => { if (p.lengthComputable) $('slides-progress').textContent = Math.round(100 * p.loaded / p.total) + ' %'; };
      xhr.onload = () => { $('slides-progress').textContent = xhr.status === 200 ? '✓' : xhr.statusText; };
      xhr.send(new FormData(form));
    });
  }
  document.addEventListener('keydown', (e) => {
    if (!host || e.target.closest('input, textarea, select')) return;
    if (e.key === 'PageDown' || e.key === 'ArrowRight') $('next').click();
    if (e.key === 'PageUp' || e.key === 'ArrowLeft') $('prev').click();
  });

  // --- media ----------------------------------------------------------------
  let pcSub = null, pcPub = null;
  const pending = { pub: [], sub: [] };
  const tx = {};
  const local = {};

  function closeMedia() {
    for (const pc of [pcSub, pcPub]) if (pc) pc.close();
    pcSub = pcPub = null;
    pending.pub = [];
    pending.sub = [];
    for (const k of Object.keys(tx)) delete tx[k];
    $('videos').replaceChildren();
  }

  async function onSubOffer(sdp) {
    if (!pcSub) {
      pcSub = new RTCPeerConnection({ iceServers });
      pcSub.ontrack = onTrack;
      pcSub.onicecandidate = (e) => { if (e.candidate) send({ type: 'ice', target: 'sub', candidate: e.candidate.toJSON() }); };
    }
    await pcSub.setRemoteDescription({ type: 'offer', sdp });
    for (const c of pending.sub.splice(0)) await pcSub.addIceCandidate(c);
    const answer = await pcSub.createAnswer();
    await pcSub.setLocalDescription(answer);
    send({ type: 'sub_answer', sdp: answer.sdp });
  }

  async function onRemoteCandidate(target, c) {
    const pc = target === 'pub' ? pcPub : pcSub;
    if (!pc || !pc.remoteDescription) { pending[target === 'pub' ? 'pub' : 'sub'].push(c); return; }
    await pc.addIceCandidate(c);
  }

  // onTrack shows a received track: its id says what it is (audio,
  // camera, screen), its stream's id whose it is.
  function onTrack(e) {
    const kind = e.track.id;
    const owner = e.streams[0] ? e.streams[0].id : 'x';
    const id = 'media-' + owner + '-' + kind;
    let m = document.getElementById(id);
    if (!m) {
      m = document.createElement(e.track.kind === 'audio' ? 'audio' : 'video');
      m.id = id;
      m.autoplay = true;
      if (m.tagName === 'VIDEO') { m.playsInline = true; m.muted = true; }
      const who = state.people.get(owner);
      m.setAttribute('aria-label', (who ? who.name : '') + ' — ' + kind);
      $('videos').append(m);
    }
    m.srcObject = new MediaStream([e.track]);
    const p = m.play();
    if (p) p.catch(() => offerSoundButton(m));
    e.track.addEventListener('ended', () => m.remove());
    // A publisher that turns its camera off sends nothing: the browser
    // mutes the track after a moment; hide the frozen last frame.
    if (m.tagName === 'VIDEO') {
      e.track.addEventListener('mute', () => { m.hidden = true; });
      e.track.addEventListener('unmute', () => { m.hidden = false; });
    }
  }

  // A browser may refuse to play sound before the user touched the page.
  function offerSoundButton(m) {
    if ($('sound-on')) return;
    const b = button('🔊 ' + (S['media.audio'] || ''), () => { for (const x of $('videos').children) x.play(); b.remove(); }, { id: 'sound-on' });
    $('videos').before(b);
    void m;
  }

  // syncPublisher opens the publishing connection when the room lets this
  // participant publish something: teachers their camera, screen and
  // microphone, a student the microphone once granted.
  async function syncPublisher() {
    const perms = mine().permissions || {};
    const may = perms.mic || perms.camera || perms.screen;
    if (!may || pcPub || !state.you) return;
    pcPub = new RTCPeerConnection({ iceServers });
    pcPub.onicecandidate = (e) => { if (e.candidate) send({ type: 'ice', target: 'pub', candidate: e.candidate.toJSON() }); };
    // The node tells tracks apart by section order: audio, camera, screen.
    tx.mic = pcPub.addTransceiver('audio', { direction: 'sendonly' });
    if (perms.camera) tx.camera = pcPub.addTransceiver('video', { direction: 'sendonly' });
    if (perms.screen) tx.screen = pcPub.addTransceiver('video', { direction: 'sendonly' });
    for (const k of ['mic', 'camera', 'screen']) if (local[k] && tx[k]) await tx[k].sender.replaceTrack(local[k]);
    const offer = await pcPub.createOffer();
    await pcPub.setLocalDescription(offer);
    send({ type: 'pub_offer', sdp: offer.sdp });
  }

  async function startTrack(kind) {
    try {
      let stream;
      if (kind === 'screen') stream = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: 5 } });
      else if (kind === 'camera') stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 360, frameRate: 15 } });
      else stream = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true, noiseSuppression: true } });
      const track = stream.getTracks()[0];
      local[kind] = track;
      track.addEventListener('ended', () => stopTrack(kind));
      if (tx[kind]) await tx[kind].sender.replaceTrack(track);
      if (kind !== 'mic') preview(kind, track);
      setPressed(kind, true);
    } catch (err) {
      console.error('live: media device:', err);
      showError(t('no_media_device'));
    }
  }
  // preview shows a teacher what their camera or screen sends (muted, and
  // not announced to screen readers twice).
  function preview(kind, track) {
    const id = 'preview-' + kind;
    let v = document.getElementById(id);
    if (!track) { if (v) v.remove(); return; }
    if (!v) {
      v = el('video', { id, autoplay: true, muted: true, playsInline: true, className: 'preview' });
      v.setAttribute('aria-hidden', 'true');
      $('videos').prepend(v);
    }
    v.srcObject = new MediaStream([track]);
  }
  function stopTrack(kind) {
    preview(kind, null);
    if (local[kind]) local[kind].stop();
    delete local[kind];
    if (tx[kind]) tx[kind].sender.replaceTrack(null).catch(() => {});
    setPressed(kind, false);
  }
  function stopLocal() { for (const k of Object.keys(local)) stopTrack(k); }
  function setPressed(kind, on) {
    const b = $(kind);
    if (!b) return;
    b.setAttribute('aria-pressed', on ? 'true' : 'false');
    const icon = { mic: '🎤 ', camera: '📷 ', screen: '🖥 ' }[kind];
    b.textContent = icon + t(kind + (on ? '_off' : '_on'));
  }
  for (const kind of ['mic', 'camera', 'screen']) {
    const b = $(kind);
    if (b) b.addEventListener('click', () => (local[kind] ? stopTrack(kind) : startTrack(kind)));
  }

  // For the browser tests and for support: the connections and the state.
  window.preauLive = { state, get pcSub() { return pcSub; }, get pcPub() { return pcPub; }, get ws() { return ws; }, send };

  connect(false);
})();
