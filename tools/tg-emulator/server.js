#!/usr/bin/env node
/*
 * Local Telegram Bot API emulator for end-to-end tests.
 *
 * It wraps the express app of the npm package `telegram-test-api` (pinned in
 * package.json) and replaces the parts of it that do not work with
 * python-telegram-bot (PTB) 22.x. What the package provides and is kept: the
 * express app and its middleware (JSON / urlencoded body parsing, request
 * logging), the update counters, the queue of user updates
 * (`storage.userMessages`) and its legacy client routes.
 *
 * What is fixed or added here (see README.md beside this file):
 *   - getMe returns a full bot User (is_bot, first_name, username, can_join_groups ...);
 *   - all dates are Unix seconds (the package used milliseconds);
 *   - callback_query updates carry chat_instance and the current Message;
 *   - editMessageText / editMessageReplyMarkup / editMessageCaption return the
 *     edited Message, like Telegram (and "message is not modified" errors);
 *   - sendMessage / sendDocument / sendChatAction / getFile / file download /
 *     setMyCommands / getMyCommands / deleteMyCommands / getChat /
 *     getChatAdministrators / getChatMember / answerCallbackQuery / deleteMessage /
 *     setWebhook / deleteWebhook / getWebhookInfo / getUpdates (offset, limit,
 *     long polling, allowed_updates) are implemented with Telegram-like results
 *     and `{ok:false, error_code, description}` errors (HTTP 400/404/409);
 *   - HTML parse_mode is parsed like Telegram does (unsupported tags and broken
 *     markup are rejected with "can't parse entities"), text becomes plain text
 *     plus entities;
 *   - webhook delivery sends X-Telegram-Bot-Api-Secret-Token, never crashes the
 *     process on failure (Node 20 exits on unhandled rejections), keeps the
 *     update pending and reports the error to the simulated user;
 *   - simulated users (routes under /emu/...) can send texts (bot_command,
 *     mention and url entities are computed like Telegram), documents, replies,
 *     group messages and button presses, answer polls (poll_answer updates),
 *     and read everything the bot did;
 *   - sendPoll (regular and quiz, with Telegram's length and option limits) and stopPoll;
 *   - inline mode: a user's inline query becomes an `inline_query` update,
 *     answerInlineQuery is checked against Telegram's limits, and the user can
 *     post a chosen result into any chat (a message `via_bot`, like Telegram).
 *
 * Usage: node server.js [--port N] [--host 127.0.0.1] [--bot-username NAME]
 *                       [--bot-first-name NAME] [--exit-with-stdin]
 *   (env: EMULATOR_PORT, EMULATOR_HOST, EMULATOR_BOT_USERNAME, EMULATOR_BOT_FIRST_NAME)
 * Port 0 picks a free port. Once listening it prints `EMULATOR READY port=N`.
 * The bot uses base_url `http://HOST:PORT/bot` and base_file_url `http://HOST:PORT/file/bot`.
 */
'use strict';

const crypto = require('crypto');
const http = require('http');
const Busboy = require('busboy');
const TelegramServer = require('telegram-test-api');
const packageRoutes = require('telegram-test-api/lib/routes/index').routes;

// ---------------------------------------------------------------- options
function parseArgs(argv) {
  const opts = {
    port: Number(process.env.EMULATOR_PORT || 0),
    host: process.env.EMULATOR_HOST || '127.0.0.1',
    botUsername: process.env.EMULATOR_BOT_USERNAME || 'EmulatorTestBot',
    botFirstName: process.env.EMULATOR_BOT_FIRST_NAME || 'Emulator Test Bot',
    exitWithStdin: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`missing value for ${a}`);
      i += 1;
      return argv[i];
    };
    if (a === '--port') opts.port = Number(next());
    else if (a === '--host') opts.host = next();
    else if (a === '--bot-username') opts.botUsername = next();
    else if (a === '--bot-first-name') opts.botFirstName = next();
    else if (a === '--exit-with-stdin') opts.exitWithStdin = true;
    else if (/^\d+$/.test(a)) opts.port = Number(a);
    else throw new Error(`unknown argument ${a}`);
  }
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) {
    throw new Error(`bad port ${opts.port}`);
  }
  return opts;
}

const OPTS = parseArgs(process.argv.slice(2));
const log = (...args) => process.stderr.write(`[emulator] ${args.join(' ')}\n`);

// ---------------------------------------------------------------- limits (as Telegram)
const MAX_TEXT = 4096;
const MAX_CAPTION = 1024;
const MAX_CALLBACK_DATA_BYTES = 64;
const MAX_UPLOAD_BYTES = 50 * 1024 * 1024;
const MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024;
const POLL = { question: 300, option: 100, minOptions: 2, maxOptions: 12, explanation: 200, explanationLineFeeds: 2 };
const CHAT_ACTIONS = new Set([
  'typing', 'upload_photo', 'record_video', 'upload_video', 'record_voice', 'upload_voice',
  'upload_document', 'choose_sticker', 'find_location', 'record_video_note', 'upload_video_note',
]);
// Telegram's default when allowed_updates was never set (or set to []).
const DEFAULT_EXCLUDED_UPDATES = new Set(['chat_member', 'message_reaction', 'message_reaction_count']);

class ApiError extends Error {
  constructor(code, description) {
    super(description);
    this.code = code;
    this.description = description;
  }
}
const badRequest = (msg) => new ApiError(400, `Bad Request: ${msg}`);

const nowSec = () => Math.floor(Date.now() / 1000);

// ---------------------------------------------------------------- the wrapped package
// Register our routes *before* the package's own (express matches in order):
// the package's constructor iterates this exported array.
packageRoutes.unshift((app, ts) => installRoutes(app, ts));

// The package's formatUpdate drops chat_instance, leaks `botToken` into the
// message and never knows the full update: updates we create carry `update`.
const legacyFormatUpdate = TelegramServer.formatUpdate;
TelegramServer.formatUpdate = function formatUpdate(entry) {
  if (entry.update) return entry.update;
  const u = legacyFormatUpdate(entry);
  const strip = (m) => {
    if (!m) return m;
    const { botToken, ...rest } = m; // eslint-disable-line no-unused-vars
    if (rest.date > 1e11) rest.date = Math.floor(rest.date / 1000);
    return rest;
  };
  if (u.message) u.message = strip(u.message);
  if (u.callback_query) {
    u.callback_query.message = strip(u.callback_query.message);
    u.callback_query.chat_instance = String(u.callback_query.message && u.callback_query.message.chat
      ? chatInstance(entry.botToken, u.callback_query.message.chat.id) : '0');
  }
  return u;
};

const ts = new TelegramServer({ port: OPTS.port || 1, host: OPTS.host, storeTimeout: 24 * 3600 });

// The package's addUserUpdate awaits a webhook POST inside request handlers that
// never await it: a failed delivery is an unhandled rejection, which kills Node 20.
// Every user update (ours and the legacy client routes') goes through here now.
ts.addUserUpdate = async function addUserUpdate(entry) {
  if (!entry.botToken) throw badRequest('botToken is required');
  const bot = getBot(entry.botToken);
  entry.updateId = ts.updateId;
  ts.updateId += 1;
  if (!entry.update) entry.update = TelegramServer.formatUpdate(entry); // legacy client routes
  entry.update.update_id = entry.updateId;
  entry.time = Date.now();
  entry.isRead = false;
  // updates from the package's legacy client routes: make their chat known to the bot
  const m = entry.update.message || (entry.update.callback_query && entry.update.callback_query.message);
  if (m && m.chat && m.chat.id !== undefined && !bot.chats.has(Number(m.chat.id))) {
    bot.chats.set(Number(m.chat.id), { ...m.chat, id: Number(m.chat.id) });
  }
  ts.storage.userMessages.push(entry);
  wakePollers(bot);
  if (bot.webhook) return deliverPending(bot, entry);
  return { delivered: false, pending: true };
};

// ---------------------------------------------------------------- per-bot state
const bots = new Map();
let fileCounter = 1;
let callbackCounter = 1;
let inlineCounter = 1;

function botIdFromToken(token) {
  const m = /^(\d+):/.exec(token);
  return m ? Number(m[1]) : 1000001;
}

function getBot(token) {
  let bot = bots.get(token);
  if (!bot) {
    bot = {
      token,
      user: {
        id: botIdFromToken(token),
        is_bot: true,
        first_name: OPTS.botFirstName,
        username: OPTS.botUsername,
        can_join_groups: true,
        // The emulator delivers every group message (like privacy mode off).
        can_read_all_group_messages: true,
        // Inline mode on, as after BotFather's /setinline.
        supports_inline_queries: true,
        can_connect_to_business: false,
        has_main_web_app: false,
      },
      chats: new Map(), // chat id -> Chat
      users: new Map(), // user id -> User
      admins: new Map(), // chat id -> {owner_id, admin_ids}
      records: [], // every message of every chat, in order
      actions: [],
      callbacks: new Map(), // callback query id -> {query, answer}
      inlineQueries: new Map(), // inline query id -> {query, answer}
      files: new Map(), // file_id -> file
      polls: new Map(), // poll id -> {poll, chatId, messageId, answers: Map user id -> option ids}
      commands: new Map(), // scope|lang -> [BotCommand]
      settings: {}, // setMyDescription & co.
      calls: [],
      webhook: null,
      webhookError: null,
      allowedUpdates: null,
      pollers: new Set(),
      delivering: Promise.resolve(),
    };
    bots.set(token, bot);
  }
  return bot;
}

function resetBot(token) {
  const bot = bots.get(token);
  if (bot) {
    for (const w of bot.pollers) w();
  }
  bots.delete(token);
  ts.storage.userMessages = ts.storage.userMessages.filter((e) => e.botToken !== token);
  ts.storage.botMessages = ts.storage.botMessages.filter((e) => e.botToken !== token);
}

function chatInstance(token, chatId) {
  const h = crypto.createHash('sha256').update(`${token}|${chatId}`).digest();
  return (h.readBigUInt64BE(0) >> 1n).toString();
}

// ---------------------------------------------------------------- param helpers
function intParam(p, name, { required = true } = {}) {
  const v = p[name];
  if (v === undefined || v === null || v === '') {
    if (required) throw badRequest(`${name} is empty`);
    return undefined;
  }
  const n = Number(v);
  if (!Number.isSafeInteger(n)) {
    if (name === 'chat_id') throw badRequest('chat not found');
    throw badRequest(`invalid ${name} specified`);
  }
  return n;
}

function jsonParam(p, name) {
  const v = p[name];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') return v;
  try {
    return JSON.parse(v);
  } catch (e) {
    throw badRequest(`can't parse ${name} JSON object`);
  }
}

function boolParam(p, name) {
  const v = p[name];
  return v === true || v === 'true' || v === 'True' || v === '1' || v === 1;
}

function strParam(p, name) {
  const v = p[name];
  if (v === undefined || v === null) return undefined;
  return String(v);
}

// ---------------------------------------------------------------- HTML parse mode
const HTML_TAGS = {
  b: 'bold', strong: 'bold', i: 'italic', em: 'italic', u: 'underline', ins: 'underline',
  s: 'strikethrough', strike: 'strikethrough', del: 'strikethrough',
  'tg-spoiler': 'spoiler', span: 'spoiler', a: 'text_link', code: 'code', pre: 'pre',
  blockquote: 'blockquote', 'tg-emoji': 'custom_emoji',
};

function decodeEntity(src, i) {
  // src[i] === '&'; returns [text, consumedLength]
  const m = /^&(#[0-9]{1,7}|#x[0-9a-fA-F]{1,6}|[a-zA-Z]{1,10});/.exec(src.slice(i, i + 16));
  if (!m) return ['&', 1];
  const body = m[1];
  let cp = null;
  if (body[0] === '#') {
    cp = body[1] === 'x' || body[1] === 'X' ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
    if (!(cp > 0 && cp <= 0x10ffff)) return ['&', 1];
    return [String.fromCodePoint(cp), m[0].length];
  }
  const named = { lt: '<', gt: '>', amp: '&', quot: '"' }[body];
  if (named === undefined) return [m[0], m[0].length]; // unsupported named entity: kept as is
  return [named, m[0].length];
}

function decodeText(s) {
  let out = '';
  for (let i = 0; i < s.length;) {
    if (s[i] === '&') {
      const [t, n] = decodeEntity(s, i);
      out += t;
      i += n;
    } else {
      out += s[i];
      i += 1;
    }
  }
  return out;
}

/** Parse Telegram-flavoured HTML into {text, entities}; throws like Telegram. */
function parseHtml(src) {
  let out = '';
  const stack = [];
  const entities = [];
  let i = 0;
  const fail = (msg) => {
    throw badRequest(`can't parse entities: ${msg} at byte offset ${Buffer.byteLength(src.slice(0, i))}`);
  };
  while (i < src.length) {
    const c = src[i];
    if (c === '&') {
      const [t, n] = decodeEntity(src, i);
      out += t;
      i += n;
      continue;
    }
    if (c !== '<') {
      out += c;
      i += 1;
      continue;
    }
    const rest = src.slice(i);
    if (rest[1] === '/') {
      const m = /^<\/([a-zA-Z][a-zA-Z0-9-]*)?\s*>/.exec(rest);
      if (!m) fail('Unclosed end tag');
      const name = (m[1] || '').toLowerCase();
      if (!stack.length) fail(`Unexpected end tag "${name}"`);
      const top = stack[stack.length - 1];
      if (name && name !== top.name) {
        fail(`Can't find end tag corresponding to start tag "${top.name}"; found "</${name}>"`);
      }
      stack.pop();
      const length = out.length - top.offset;
      if (top.name === 'code' && stack.length && stack[stack.length - 1].name === 'pre' && top.language) {
        stack[stack.length - 1].language = top.language;
      } else if (length > 0 && top.entity) {
        const e = { type: top.entity.type, offset: top.offset, length };
        Object.assign(e, top.entity.extra || {});
        if (top.name === 'pre' && top.language) e.language = top.language;
        entities.push(e);
      }
      i += m[0].length;
      continue;
    }
    const m = /^<([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[a-zA-Z][a-zA-Z0-9_-]*(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'>]+))?)*)\s*\/?>/.exec(rest);
    if (!m) {
      if (/^<[a-zA-Z]/.test(rest)) fail('Unclosed start tag');
      fail('Unexpected end of name token');
    }
    const name = m[1].toLowerCase();
    if (!(name in HTML_TAGS)) fail(`Unsupported start tag "${name}"`);
    const attrs = {};
    const attrRe = /([a-zA-Z][a-zA-Z0-9_-]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?/g;
    let am;
    while ((am = attrRe.exec(m[2] || '')) !== null) {
      const v = am[2] !== undefined ? am[2] : (am[3] !== undefined ? am[3] : (am[4] !== undefined ? am[4] : ''));
      attrs[am[1].toLowerCase()] = decodeText(v);
    }
    const frame = { name, offset: out.length, entity: { type: HTML_TAGS[name] } };
    if (name === 'span') {
      if (attrs.class !== 'tg-spoiler') fail('Tag "span" must have class "tg-spoiler"');
    } else if (name === 'a') {
      const href = attrs.href || '';
      const um = /^tg:\/\/user\?id=(\d+)$/.exec(href);
      if (um) frame.entity = { type: 'text_mention', extra: { user: { id: Number(um[1]), is_bot: false, first_name: '' } } };
      else if (href) frame.entity = { type: 'text_link', extra: { url: href } };
      else frame.entity = null;
    } else if (name === 'code') {
      const lm = /^language-(.+)$/.exec(attrs.class || '');
      if (lm) frame.language = lm[1];
    } else if (name === 'blockquote') {
      if ('expandable' in attrs) frame.entity = { type: 'expandable_blockquote' };
    } else if (name === 'tg-emoji') {
      if (!attrs['emoji-id']) fail('Custom emoji identifier is not specified');
      frame.entity = { type: 'custom_emoji', extra: { custom_emoji_id: attrs['emoji-id'] } };
    }
    stack.push(frame);
    i += m[0].length;
  }
  if (stack.length) {
    fail(`Can't find end tag corresponding to start tag "${stack[stack.length - 1].name}"`);
  }
  entities.sort((a, b) => a.offset - b.offset || b.length - a.length);
  return { text: out, entities };
}

/** Turn what the bot sent (text + parse_mode/entities) into what the user sees. */
function formatText(raw, parseMode, explicitEntities, { what = 'text', max = MAX_TEXT } = {}) {
  let text = raw;
  let entities = explicitEntities;
  const mode = (parseMode || '').toLowerCase();
  if (mode === 'html') {
    const r = parseHtml(raw);
    text = r.text;
    entities = r.entities;
  } else if (mode && mode !== 'markdown' && mode !== 'markdownv2') {
    throw badRequest(`unsupported parse_mode ${parseMode}`);
  }
  // Markdown(V2) is not parsed: the text is kept as sent (documented limitation).
  if (what === 'text' && !text.trim()) throw badRequest('message text is empty');
  if (text.length > max) throw badRequest(what === 'text' ? 'message is too long' : 'message caption is too long');
  return { text, entities: entities && entities.length ? entities : undefined };
}

// ---------------------------------------------------------------- entities of user texts
function userEntities(text) {
  const entities = [];
  const add = (type, offset, length) => entities.push({ type, offset, length });
  let m;
  const cmdRe = /(^|\s)(\/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?)(?![A-Za-z0-9_@/])/g;
  while ((m = cmdRe.exec(text)) !== null) add('bot_command', m.index + m[1].length, m[2].length);
  const mentionRe = /(^|[^A-Za-z0-9_@/])(@[A-Za-z0-9_]{5,32})(?![A-Za-z0-9_])/g;
  while ((m = mentionRe.exec(text)) !== null) {
    const off = m.index + m[1].length;
    if (!entities.some((e) => off >= e.offset && off < e.offset + e.length)) add('mention', off, m[2].length);
  }
  const urlRe = /https?:\/\/[^\s<>"]+[^\s<>".,;:!?)\]'"，。！？]/g;
  while ((m = urlRe.exec(text)) !== null) add('url', m.index, m[0].length);
  entities.sort((a, b) => a.offset - b.offset);
  return entities;
}

// ---------------------------------------------------------------- reply markup
function checkReplyMarkup(markup) {
  if (markup === undefined) return undefined;
  if (typeof markup !== 'object' || markup === null) throw badRequest("can't parse reply keyboard markup JSON object");
  if (markup.inline_keyboard !== undefined) {
    if (!Array.isArray(markup.inline_keyboard)) throw badRequest('field "inline_keyboard" must be of type Array');
    for (const row of markup.inline_keyboard) {
      if (!Array.isArray(row)) throw badRequest('field "inline_keyboard" must be an Array of Arrays');
      for (const b of row) {
        if (!b || typeof b.text !== 'string' || !b.text) throw badRequest('text buttons are unallowed in the inline keyboard');
        const kinds = ['callback_data', 'url', 'switch_inline_query', 'switch_inline_query_current_chat',
          'switch_inline_query_chosen_chat', 'copy_text', 'web_app', 'login_url', 'callback_game', 'pay']
          .filter((k) => b[k] !== undefined);
        if (kinds.length !== 1) throw badRequest("can't parse inline keyboard button: exactly one of the optional fields must be used");
        if (b.callback_data !== undefined) {
          const n = Buffer.byteLength(String(b.callback_data));
          if (n < 1 || n > MAX_CALLBACK_DATA_BYTES) throw badRequest('BUTTON_DATA_INVALID');
        }
        if (b.url !== undefined && !/^(https?|tg):\/\/\S+$/.test(b.url)) throw badRequest('inline keyboard button URL is invalid');
      }
    }
  }
  return markup;
}

function inlineOnly(markup) {
  return markup && markup.inline_keyboard && markup.inline_keyboard.length ? markup : undefined;
}

function sameJson(a, b) {
  return JSON.stringify(a === undefined ? null : a) === JSON.stringify(b === undefined ? null : b);
}

// ---------------------------------------------------------------- chats, users, messages
function requireChat(bot, chatId) {
  const chat = bot.chats.get(chatId);
  if (!chat) throw badRequest('chat not found');
  return chat;
}

function userObject(bot, userId) {
  return bot.users.get(userId) || { id: userId, is_bot: false, first_name: `User${userId}` };
}

function findRecord(bot, chatId, messageId) {
  return bot.records.find((r) => r.msg.chat.id === chatId && r.msg.message_id === messageId);
}

function quoted(msg) {
  if (!msg) return undefined;
  const { reply_to_message, ...rest } = msg; // eslint-disable-line camelcase, no-unused-vars
  return rest;
}

function resolveReply(bot, chatId, p) {
  const rp = jsonParam(p, 'reply_parameters');
  const messageId = rp && rp.message_id !== undefined ? Number(rp.message_id) : intParam(p, 'reply_to_message_id', { required: false });
  if (messageId === undefined) return undefined;
  const replyChat = rp && rp.chat_id !== undefined ? Number(rp.chat_id) : chatId;
  const allowWithout = (rp && rp.allow_sending_without_reply) || boolParam(p, 'allow_sending_without_reply');
  const rec = findRecord(bot, replyChat, messageId);
  if (!rec || rec.deleted) {
    if (allowWithout) return undefined;
    throw badRequest('message to be replied not found');
  }
  return quoted(rec.msg);
}

function addRecord(bot, msg, meta) {
  const rec = {
    msg,
    from_bot: meta.from_bot,
    method: meta.method,
    parse_mode: meta.parse_mode,
    raw_text: meta.raw_text,
    raw_caption: meta.raw_caption,
    reply_markup: meta.reply_markup, // as sent (inline or reply keyboards)
    edit_count: 0,
    history: [], // earlier versions, oldest first
    deleted: false,
    update_id: meta.update_id,
  };
  bot.records.push(rec);
  // keep the package's history (POST /getUpdatesHistory) meaningful
  if (meta.from_bot) {
    ts.storage.botMessages.push({
      time: Date.now(), botToken: bot.token, message: { ...msg, chat_id: msg.chat.id },
      updateId: 0, messageId: msg.message_id, isRead: true,
    });
  }
  return rec;
}

function recordView(rec) {
  const v = { ...rec.msg };
  if (rec.reply_markup !== undefined) v.reply_markup = rec.reply_markup;
  else delete v.reply_markup;
  Object.assign(v, {
    from_bot: rec.from_bot,
    method: rec.method,
    parse_mode: rec.parse_mode || null,
    raw_text: rec.raw_text === undefined ? null : rec.raw_text,
    raw_caption: rec.raw_caption === undefined ? null : rec.raw_caption,
    edit_count: rec.edit_count,
    history: rec.history,
    deleted: rec.deleted,
  });
  return v;
}

function nextMessageId() {
  const id = ts.messageId;
  ts.messageId += 1;
  return id;
}

function newFile(bot, { data, fileName, mimeType, kind = 'documents' }) {
  const n = fileCounter++;
  const rand = crypto.randomBytes(12).toString('base64url');
  const ext = (/\.([A-Za-z0-9]{1,10})$/.exec(fileName || '') || [])[1];
  const file = {
    file_id: `BQACAgIAAxkBAAI${n}${rand}`,
    file_unique_id: `AgAD${n}${rand.slice(0, 6)}`,
    file_size: data.length,
    file_path: `${kind}/file_${n}${ext ? `.${ext}` : ''}`,
    file_name: fileName,
    mime_type: mimeType,
    data,
  };
  bot.files.set(file.file_id, file);
  return file;
}

function documentObject(file) {
  const d = { file_id: file.file_id, file_unique_id: file.file_unique_id, file_size: file.file_size };
  if (file.file_name) d.file_name = file.file_name;
  if (file.mime_type) d.mime_type = file.mime_type;
  return d;
}

// ---------------------------------------------------------------- update delivery
function updateType(update) {
  return Object.keys(update).find((k) => k !== 'update_id');
}

function updateAllowed(bot, update) {
  const t = updateType(update);
  if (Array.isArray(bot.allowedUpdates) && bot.allowedUpdates.length) return bot.allowedUpdates.includes(t);
  return !DEFAULT_EXCLUDED_UPDATES.has(t);
}

function pendingEntries(bot) {
  return ts.storage.userMessages.filter((e) => e.botToken === bot.token && !e.isRead);
}

function wakePollers(bot) {
  for (const w of bot.pollers) w();
  bot.pollers.clear();
}

async function postUpdate(bot, update) {
  const headers = { 'Content-Type': 'application/json' };
  if (bot.webhook.secret_token) headers['X-Telegram-Bot-Api-Secret-Token'] = bot.webhook.secret_token;
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), 15000);
  try {
    const resp = await fetch(bot.webhook.url, {
      method: 'POST', headers, body: JSON.stringify(update), signal: ctl.signal,
    });
    const body = await resp.text();
    if (resp.status < 200 || resp.status > 299) {
      return `Wrong response from the webhook: ${resp.status} ${resp.statusText} ${body.slice(0, 200)}`.trim();
    }
    return null;
  } catch (e) {
    return `Connection to the webhook failed: ${e.cause ? e.cause.message || e.cause.code : e.message}`;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Deliver every pending update of this bot, in order, to its webhook. Deliveries of
 * one bot never overlap. Resolves with the outcome for `target` (if given).
 */
function deliverPending(bot, target) {
  const run = async () => {
    while (bot.webhook) {
      const entry = pendingEntries(bot)[0];
      if (!entry) break;
      if (!updateAllowed(bot, entry.update)) {
        entry.isRead = true;
        continue;
      }
      const error = await postUpdate(bot, entry.update);
      if (error) {
        bot.webhookError = { date: nowSec(), message: error };
        log(`webhook delivery of update ${entry.updateId} to ${bot.webhook && bot.webhook.url} failed: ${error}`);
        break;
      }
      entry.isRead = true;
    }
    if (!target) return { delivered: false };
    if (target.isRead) return { delivered: true };
    return { delivered: false, error: bot.webhookError ? bot.webhookError.message : 'webhook removed before delivery' };
  };
  const p = bot.delivering.then(run, run);
  bot.delivering = p.catch(() => {});
  return p;
}

// ---------------------------------------------------------------- Bot API methods
const methods = {};

methods.getme = (bot) => bot.user;
methods.logout = () => true;
methods.close = () => true;

methods.getupdates = async (bot, p) => {
  if (bot.webhook) {
    throw new ApiError(409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first");
  }
  const offset = intParam(p, 'offset', { required: false }) || 0;
  const limit = Math.min(Math.max(intParam(p, 'limit', { required: false }) || 100, 1), 100);
  const timeout = Math.min(Math.max(Number(p.timeout || 0) || 0, 0), 50);
  const allowed = jsonParam(p, 'allowed_updates');
  if (Array.isArray(allowed)) bot.allowedUpdates = allowed;
  const collect = () => {
    const out = [];
    for (const e of pendingEntries(bot)) {
      if (offset > 0 && e.updateId < offset) {
        e.isRead = true; // confirmed by the offset
        continue;
      }
      if (!updateAllowed(bot, e.update)) {
        e.isRead = true;
        continue;
      }
      if (out.length < limit) out.push(e.update);
    }
    return out;
  };
  let result = collect();
  if (!result.length && timeout > 0) {
    await new Promise((resolve) => {
      const timer = setTimeout(done, timeout * 1000);
      function done() {
        clearTimeout(timer);
        bot.pollers.delete(done);
        resolve();
      }
      bot.pollers.add(done);
    });
    if (bots.get(bot.token) === bot && !bot.webhook) result = collect();
  }
  return result;
};

methods.setwebhook = (bot, p) => {
  const url = strParam(p, 'url') || '';
  if (!url) {
    bot.webhook = null;
    return true;
  }
  if (!/^https?:\/\/[^\s/]+/.test(url)) throw badRequest('bad webhook: An HTTPS URL must be provided for webhook');
  const secret = strParam(p, 'secret_token');
  if (secret !== undefined && !/^[A-Za-z0-9_-]{1,256}$/.test(secret)) throw badRequest('secret token contains unallowed characters');
  const allowed = jsonParam(p, 'allowed_updates');
  if (Array.isArray(allowed)) bot.allowedUpdates = allowed;
  if (boolParam(p, 'drop_pending_updates')) for (const e of pendingEntries(bot)) e.isRead = true;
  bot.webhook = {
    url,
    secret_token: secret,
    max_connections: intParam(p, 'max_connections', { required: false }) || 40,
    ip_address: strParam(p, 'ip_address'),
  };
  bot.webhookError = null;
  wakePollers(bot);
  // Updates that waited for the webhook are delivered in the background.
  setImmediate(() => { deliverPending(bot, null).catch((e) => log(`delivery error: ${e.stack || e}`)); });
  return true;
};

methods.deletewebhook = (bot, p) => {
  bot.webhook = null;
  if (boolParam(p, 'drop_pending_updates')) for (const e of pendingEntries(bot)) e.isRead = true;
  return true;
};

methods.getwebhookinfo = (bot) => {
  const info = {
    url: bot.webhook ? bot.webhook.url : '',
    has_custom_certificate: false,
    pending_update_count: pendingEntries(bot).length,
  };
  if (bot.webhook) {
    info.max_connections = bot.webhook.max_connections;
    if (bot.webhook.ip_address) info.ip_address = bot.webhook.ip_address;
    if (bot.webhookError) {
      info.last_error_date = bot.webhookError.date;
      info.last_error_message = bot.webhookError.message;
    }
  }
  if (Array.isArray(bot.allowedUpdates) && bot.allowedUpdates.length) info.allowed_updates = bot.allowedUpdates;
  return info;
};

function botSender(bot) {
  const { id, is_bot, first_name, username } = bot.user; // eslint-disable-line camelcase
  return { id, is_bot, first_name, username };
}

function botMessage(bot, p, method, extra) {
  const chatId = intParam(p, 'chat_id');
  const chat = requireChat(bot, chatId);
  const replyMarkup = checkReplyMarkup(jsonParam(p, 'reply_markup'));
  const reply = resolveReply(bot, chatId, p);
  const msg = {
    message_id: nextMessageId(),
    from: botSender(bot),
    chat,
    date: nowSec(),
    ...extra.fields,
  };
  if (reply) msg.reply_to_message = reply;
  const inline = inlineOnly(replyMarkup);
  if (inline) msg.reply_markup = inline;
  const rec = addRecord(bot, msg, {
    from_bot: true, method, parse_mode: strParam(p, 'parse_mode'), reply_markup: replyMarkup, ...extra.meta,
  });
  return rec.msg;
}

methods.sendmessage = (bot, p) => {
  const raw = strParam(p, 'text');
  if (raw === undefined || raw === '') throw badRequest('message text is empty');
  const { text, entities } = formatText(raw, strParam(p, 'parse_mode'), jsonParam(p, 'entities'));
  const fields = { text };
  if (entities) fields.entities = entities;
  const lpo = jsonParam(p, 'link_preview_options');
  if (lpo) fields.link_preview_options = lpo;
  return botMessage(bot, p, 'sendMessage', { fields, meta: { raw_text: raw } });
};

methods.senddocument = (bot, p, files) => {
  const chatId = intParam(p, 'chat_id');
  requireChat(bot, chatId);
  let doc = p.document;
  let file;
  if (typeof doc === 'string' && doc.startsWith('attach://')) doc = files[doc.slice('attach://'.length)];
  else if (doc === undefined || doc === '') doc = files.document;
  if (doc && typeof doc === 'object' && doc.data) {
    if (doc.data.length === 0) throw badRequest('file must be non-empty');
    if (doc.data.length > MAX_UPLOAD_BYTES) throw new ApiError(413, 'Request Entity Too Large');
    file = newFile(bot, { data: doc.data, fileName: doc.filename, mimeType: doc.mimeType });
  } else if (typeof doc === 'string' && bot.files.has(doc)) {
    file = bot.files.get(doc);
  } else if (typeof doc === 'string' && /^https?:\/\//.test(doc)) {
    throw badRequest('failed to get HTTP URL content (the emulator cannot fetch URLs)');
  } else {
    throw badRequest('wrong file identifier/HTTP URL specified');
  }
  const fields = { document: documentObject(file) };
  const rawCaption = strParam(p, 'caption');
  if (rawCaption) {
    const c = formatText(rawCaption, strParam(p, 'parse_mode'), jsonParam(p, 'caption_entities'), { what: 'caption', max: MAX_CAPTION });
    fields.caption = c.text;
    if (c.entities) fields.caption_entities = c.entities;
  }
  return botMessage(bot, p, 'sendDocument', { fields, meta: { raw_caption: rawCaption } });
};

// ---------------------------------------------------------------- polls (sendPoll, stopPoll; users answer via /emu/answerPoll)
let pollCounter = 1;

function pollText(raw, parseMode, entities, what, max) {
  if (raw === undefined || raw === '') throw badRequest(`poll ${what} must be non-empty`);
  const r = formatText(raw, parseMode, entities, { what: 'caption', max: Infinity });
  if (r.text.length > max) throw badRequest(`poll ${what} length must not exceed ${max}`);
  return r;
}

methods.sendpoll = (bot, p) => {
  requireChat(bot, intParam(p, 'chat_id'));
  const q = pollText(strParam(p, 'question'), strParam(p, 'question_parse_mode'), jsonParam(p, 'question_entities'), 'question', POLL.question);
  const rawOptions = jsonParam(p, 'options');
  if (!Array.isArray(rawOptions) || rawOptions.length < POLL.minOptions || rawOptions.length > POLL.maxOptions) {
    throw badRequest(`poll must have ${POLL.minOptions}-${POLL.maxOptions} options`);
  }
  const options = rawOptions.map((o) => {
    const text = typeof o === 'string' ? o : o && o.text;
    const r = pollText(text, typeof o === 'object' ? o.text_parse_mode : undefined, undefined, 'option', POLL.option);
    return { text: r.text, voter_count: 0, persistent_id: crypto.randomBytes(6).toString('base64url') };
  });
  const type = strParam(p, 'type') || 'regular';
  if (!['regular', 'quiz'].includes(type)) throw badRequest('wrong poll type specified');
  const many = boolParam(p, 'allows_multiple_answers');
  const ids = jsonParam(p, 'correct_option_ids');
  const single = intParam(p, 'correct_option_id', { required: false });
  const correct = Array.isArray(ids) ? ids.map(Number) : (single === undefined ? [] : [single]);
  if (type === 'quiz') {
    if (many) throw badRequest("quiz polls can't allow multiple answers");
    if (correct.length !== 1 || !(correct[0] >= 0 && correct[0] < options.length)) {
      throw badRequest('wrong correct option ID specified');
    }
  } else if (correct.length) {
    throw badRequest('correct option IDs can be specified only for quizzes');
  }
  const poll = {
    id: `${bot.user.id}${String(pollCounter++).padStart(10, '0')}`,
    question: q.text,
    options,
    total_voter_count: 0,
    is_closed: boolParam(p, 'is_closed'),
    is_anonymous: p.is_anonymous === undefined ? true : boolParam(p, 'is_anonymous'),
    type,
    allows_multiple_answers: many,
    allows_revoting: type !== 'quiz' && (p.allows_revoting === undefined || boolParam(p, 'allows_revoting')),
    members_only: boolParam(p, 'members_only'),
  };
  if (q.entities) poll.question_entities = q.entities;
  if (type === 'quiz') poll.correct_option_ids = correct; // Bot API 9.6 replaced correct_option_id
  const rawExplanation = strParam(p, 'explanation');
  if (rawExplanation) {
    if (type !== 'quiz') throw badRequest('explanation can be specified only for quizzes');
    const e = pollText(rawExplanation, strParam(p, 'explanation_parse_mode'), jsonParam(p, 'explanation_entities'), 'explanation', POLL.explanation);
    if ((e.text.match(/\n/g) || []).length > POLL.explanationLineFeeds) throw badRequest('poll explanation has too many line feeds');
    poll.explanation = e.text;
    if (e.entities) poll.explanation_entities = e.entities;
  }
  const msg = botMessage(bot, p, 'sendPoll', { fields: { poll }, meta: {} });
  bot.polls.set(poll.id, { poll, chatId: msg.chat.id, messageId: msg.message_id, answers: new Map() });
  return msg;
};

methods.stoppoll = (bot, p) => {
  const chatId = intParam(p, 'chat_id');
  requireChat(bot, chatId);
  const messageId = intParam(p, 'message_id');
  const entry = [...bot.polls.values()].find((e) => e.chatId === chatId && e.messageId === messageId);
  if (!entry) throw badRequest('message with poll to stop not found');
  if (entry.poll.is_closed) throw badRequest('poll has already been closed');
  entry.poll.is_closed = true;
  return entry.poll;
};

function editTarget(bot, p) {
  if (p.inline_message_id) throw badRequest('inline messages are not supported by the emulator');
  const chatId = intParam(p, 'chat_id');
  requireChat(bot, chatId);
  const messageId = intParam(p, 'message_id');
  const rec = findRecord(bot, chatId, messageId);
  if (!rec || rec.deleted) throw badRequest('message to edit not found');
  if (!rec.from_bot) throw badRequest("message can't be edited");
  return rec;
}

const NOT_MODIFIED = 'message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message';

function applyEdit(rec, changes, replyMarkup) {
  // Like Telegram: an edit without reply_markup removes the inline keyboard.
  const inline = inlineOnly(replyMarkup);
  const newMsg = { ...rec.msg, ...changes };
  for (const k of Object.keys(changes)) if (changes[k] === undefined) delete newMsg[k];
  if (inline) newMsg.reply_markup = inline;
  else delete newMsg.reply_markup;
  const cmp = (m) => ({
    text: m.text, entities: m.entities, caption: m.caption, caption_entities: m.caption_entities, reply_markup: m.reply_markup,
  });
  if (sameJson(cmp(newMsg), cmp(rec.msg))) throw badRequest(NOT_MODIFIED);
  newMsg.edit_date = nowSec();
  rec.history.push({
    text: rec.msg.text,
    entities: rec.msg.entities,
    caption: rec.msg.caption,
    caption_entities: rec.msg.caption_entities,
    reply_markup: rec.reply_markup,
    raw_text: rec.raw_text,
    raw_caption: rec.raw_caption,
    date: rec.msg.edit_date || rec.msg.date,
  });
  rec.msg = newMsg;
  rec.reply_markup = inline;
  rec.edit_count += 1;
  return newMsg;
}

methods.editmessagetext = (bot, p) => {
  const rec = editTarget(bot, p);
  if (rec.msg.text === undefined) throw badRequest('there is no text in the message to edit');
  const raw = strParam(p, 'text');
  if (raw === undefined || raw === '') throw badRequest('message text is empty');
  const replyMarkup = checkReplyMarkup(jsonParam(p, 'reply_markup'));
  const { text, entities } = formatText(raw, strParam(p, 'parse_mode'), jsonParam(p, 'entities'));
  const msg = applyEdit(rec, { text, entities }, replyMarkup);
  rec.raw_text = raw;
  rec.parse_mode = strParam(p, 'parse_mode');
  return msg;
};

methods.editmessagecaption = (bot, p) => {
  const rec = editTarget(bot, p);
  if (rec.msg.text !== undefined) throw badRequest('there is no caption in the message to edit');
  const raw = strParam(p, 'caption') || '';
  const replyMarkup = checkReplyMarkup(jsonParam(p, 'reply_markup'));
  const c = raw ? formatText(raw, strParam(p, 'parse_mode'), jsonParam(p, 'caption_entities'), { what: 'caption', max: MAX_CAPTION }) : { text: undefined, entities: undefined };
  const msg = applyEdit(rec, { caption: c.text, caption_entities: c.entities }, replyMarkup);
  rec.raw_caption = raw || undefined;
  rec.parse_mode = strParam(p, 'parse_mode');
  return msg;
};

methods.editmessagereplymarkup = (bot, p) => {
  const rec = editTarget(bot, p);
  const replyMarkup = checkReplyMarkup(jsonParam(p, 'reply_markup'));
  return applyEdit(rec, {}, replyMarkup);
};

methods.deletemessage = (bot, p) => {
  const chatId = intParam(p, 'chat_id');
  requireChat(bot, chatId);
  const rec = findRecord(bot, chatId, intParam(p, 'message_id'));
  if (!rec || rec.deleted) throw badRequest('message to delete not found');
  rec.deleted = true;
  return true;
};

methods.deletemessages = (bot, p) => {
  const chatId = intParam(p, 'chat_id');
  requireChat(bot, chatId);
  const ids = jsonParam(p, 'message_ids');
  if (!Array.isArray(ids) || !ids.length) throw badRequest('message_ids is empty');
  for (const id of ids) {
    const rec = findRecord(bot, chatId, Number(id));
    if (rec) rec.deleted = true;
  }
  return true;
};

methods.sendchataction = (bot, p) => {
  const chatId = intParam(p, 'chat_id');
  requireChat(bot, chatId);
  const action = strParam(p, 'action');
  if (!CHAT_ACTIONS.has(action)) throw badRequest('wrong parameter action in request');
  bot.actions.push({ chat_id: chatId, action, date: nowSec(), time: Date.now() / 1000 });
  return true;
};

methods.answercallbackquery = (bot, p) => {
  const id = strParam(p, 'callback_query_id');
  const cb = id && bot.callbacks.get(id);
  if (!cb || cb.answer) throw badRequest('query is too old and response timeout expired or query ID is invalid');
  const text = strParam(p, 'text');
  if (text && text.length > 200) throw badRequest('MESSAGE_TOO_LONG');
  cb.answer = {
    callback_query_id: id,
    text: text === undefined ? null : text,
    show_alert: boolParam(p, 'show_alert'),
    url: strParam(p, 'url') || null,
    cache_time: intParam(p, 'cache_time', { required: false }) || 0,
  };
  return true;
};

const MAX_INLINE_RESULTS = 50;
const MAX_INLINE_ID_BYTES = 64;
const INLINE_START_PARAMETER = /^[A-Za-z0-9_-]{1,64}$/;

/** An InlineQueryResultArticle as Telegram checks it; other result types are not emulated. */
function checkInlineResult(result, seen) {
  if (!result || typeof result !== 'object') throw badRequest("can't parse inline query result JSON object");
  if (result.type !== 'article') throw badRequest(`inline query result type ${result.type} is not supported by the emulator`);
  const id = String(result.id === undefined ? '' : result.id);
  const bytes = Buffer.byteLength(id);
  if (bytes < 1 || bytes > MAX_INLINE_ID_BYTES) throw badRequest('RESULT_ID_INVALID');
  if (seen.has(id)) throw badRequest('RESULT_ID_DUPLICATE');
  seen.add(id);
  if (typeof result.title !== 'string' || !result.title.trim()) throw badRequest('RESULT_TITLE_EMPTY');
  const content = result.input_message_content;
  if (!content || typeof content.message_text !== 'string') throw badRequest('MESSAGE_EMPTY');
  formatText(content.message_text, content.parse_mode, content.entities);
  checkReplyMarkup(result.reply_markup);
  return { ...result, id };
}

methods.answerinlinequery = (bot, p) => {
  const id = strParam(p, 'inline_query_id');
  const iq = id && bot.inlineQueries.get(id);
  if (!iq || iq.answer) throw badRequest('query is too old and response timeout expired or query ID is invalid');
  const results = jsonParam(p, 'results');
  if (!Array.isArray(results)) throw badRequest('results must be an Array');
  if (results.length > MAX_INLINE_RESULTS) throw badRequest('RESULTS_TOO_MUCH');
  const seen = new Set();
  const checked = results.map((r) => checkInlineResult(r, seen));
  const button = jsonParam(p, 'button');
  if (button !== undefined) {
    if (!button || typeof button.text !== 'string' || !button.text) throw badRequest('BUTTON_TEXT_INVALID');
    if (button.start_parameter !== undefined && !INLINE_START_PARAMETER.test(button.start_parameter)) {
      throw badRequest('START_PARAM_INVALID');
    }
  }
  const nextOffset = strParam(p, 'next_offset') || '';
  if (Buffer.byteLength(nextOffset) > 64) throw badRequest('NEXT_OFFSET_INVALID');
  iq.answer = {
    inline_query_id: id,
    results: checked,
    button: button || null,
    cache_time: intParam(p, 'cache_time', { required: false }) ?? 300,
    is_personal: boolParam(p, 'is_personal'),
    next_offset: nextOffset,
  };
  return true;
};

function commandsKey(p) {
  const scope = jsonParam(p, 'scope') || { type: 'default' };
  return `${JSON.stringify(scope)}|${strParam(p, 'language_code') || ''}`;
}

methods.setmycommands = (bot, p) => {
  const commands = jsonParam(p, 'commands');
  if (!Array.isArray(commands)) throw badRequest('commands must be an Array');
  if (commands.length > 100) throw badRequest('too many commands');
  for (const c of commands) {
    if (!c || typeof c.command !== 'string' || !/^[a-z0-9_]{1,32}$/.test(c.command)) throw badRequest('BOT_COMMAND_INVALID');
    if (typeof c.description !== 'string' || !c.description.trim() || c.description.length > 256) {
      throw badRequest('BOT_COMMAND_DESCRIPTION_INVALID');
    }
  }
  const key = commandsKey(p);
  if (commands.length) bot.commands.set(key, commands.map((c) => ({ command: c.command, description: c.description })));
  else bot.commands.delete(key);
  return true;
};

methods.getmycommands = (bot, p) => bot.commands.get(commandsKey(p)) || [];

methods.deletemycommands = (bot, p) => {
  bot.commands.delete(commandsKey(p));
  return true;
};

for (const what of ['description', 'short_description', 'name']) {
  const method = what.replace(/_/g, ''); // setMyDescription, setMyShortDescription, setMyName (+ get...)
  methods[`setmy${method}`] = (bot, p) => {
    bot.settings[`${what}|${strParam(p, 'language_code') || ''}`] = strParam(p, what) || '';
    return true;
  };
  methods[`getmy${method}`] = (bot, p) => ({
    [what]: bot.settings[`${what}|${strParam(p, 'language_code') || ''}`] || '',
  });
}

methods.setchatmenubutton = (bot, p) => {
  bot.settings.menu_button = jsonParam(p, 'menu_button') || { type: 'default' };
  return true;
};
methods.getchatmenubutton = (bot) => bot.settings.menu_button || { type: 'commands' };

methods.getchat = (bot, p) => {
  const chat = requireChat(bot, intParam(p, 'chat_id'));
  return {
    ...chat,
    accent_color_id: 0,
    max_reaction_count: 11,
    accepted_gift_types: {
      unlimited_gifts: false, limited_gifts: false, unique_gifts: false, premium_subscription: false, gifts_from_channels: false,
    },
  };
};

const ADMIN_RIGHTS = {
  can_be_edited: false, is_anonymous: false, can_manage_chat: true, can_delete_messages: true,
  can_manage_video_chats: true, can_restrict_members: true, can_promote_members: false, can_change_info: true,
  can_invite_users: true, can_post_stories: false, can_edit_stories: false, can_delete_stories: false,
  can_pin_messages: true, can_manage_topics: false,
};

function memberOf(bot, chat, userId) {
  const user = userId === bot.user.id ? botSender(bot) : userObject(bot, userId);
  if (chat.type === 'private') return { status: 'member', user };
  const admins = bot.admins.get(chat.id) || { owner_id: null, admin_ids: [] };
  if (admins.owner_id === userId) return { status: 'creator', user, is_anonymous: false };
  if (admins.admin_ids.includes(userId)) return { status: 'administrator', user, ...ADMIN_RIGHTS };
  return { status: 'member', user };
}

methods.getchatadministrators = (bot, p) => {
  const chat = requireChat(bot, intParam(p, 'chat_id'));
  if (chat.type === 'private') throw badRequest('there are no administrators in the private chat');
  const admins = bot.admins.get(chat.id) || { owner_id: null, admin_ids: [] };
  const ids = [];
  if (admins.owner_id !== null) ids.push(admins.owner_id);
  for (const id of admins.admin_ids) if (!ids.includes(id) && id !== bot.user.id) ids.push(id);
  return ids.map((id) => memberOf(bot, chat, id));
};

methods.getchatmember = (bot, p) => {
  const chat = requireChat(bot, intParam(p, 'chat_id'));
  return memberOf(bot, chat, intParam(p, 'user_id'));
};

methods.getchatmembercount = (bot, p) => {
  const chat = requireChat(bot, intParam(p, 'chat_id'));
  if (chat.type === 'private') return 2;
  const ids = new Set(bot.records.filter((r) => r.msg.chat.id === chat.id && !r.from_bot).map((r) => r.msg.from.id));
  return ids.size + 1;
};

methods.getfile = (bot, p) => {
  const id = strParam(p, 'file_id');
  const file = id && bot.files.get(id);
  if (!file) throw badRequest('invalid file_id');
  if (file.file_size > MAX_DOWNLOAD_BYTES) throw badRequest('file is too big');
  return {
    file_id: file.file_id, file_unique_id: file.file_unique_id, file_size: file.file_size, file_path: file.file_path,
  };
};

// ---------------------------------------------------------------- request plumbing
function sendOk(res, result) {
  res.status(200).json({ ok: true, result });
}

function sendFail(res, err) {
  if (err instanceof ApiError) {
    res.status(err.code).json({ ok: false, error_code: err.code, description: err.description });
    return;
  }
  log(`internal error: ${err && err.stack ? err.stack : err}`);
  res.status(500).json({ ok: false, error_code: 500, description: `Internal Server Error: emulator bug: ${err && err.message}` });
}

/** Collect fields and files of a multipart/form-data request (busboy). */
function parseMultipart(req) {
  return new Promise((resolve, reject) => {
    const fields = {};
    const files = {};
    let bb;
    try {
      bb = Busboy({ headers: req.headers, defParamCharset: 'utf8', limits: { fileSize: MAX_UPLOAD_BYTES + 1, fieldSize: 10 * 1024 * 1024 } });
    } catch (e) {
      reject(badRequest(`bad multipart body: ${e.message}`));
      return;
    }
    bb.on('field', (name, value) => { fields[name] = value; });
    bb.on('file', (name, stream, info) => {
      const chunks = [];
      stream.on('data', (c) => chunks.push(c));
      stream.on('end', () => {
        files[name] = { data: Buffer.concat(chunks), filename: info.filename, mimeType: info.mimeType };
      });
    });
    bb.on('error', (e) => reject(badRequest(`bad multipart body: ${e.message}`)));
    bb.on('close', () => resolve({ fields, files }));
    req.pipe(bb);
  });
}

async function readParams(req) {
  let params = { ...req.query };
  let files = {};
  if (req.is('multipart/form-data')) {
    const mp = await parseMultipart(req);
    params = { ...params, ...mp.fields };
    files = mp.files;
  } else if (req.body && typeof req.body === 'object') {
    params = { ...params, ...req.body };
  }
  return { params, files };
}

function summarize(params) {
  const out = {};
  for (const [k, v] of Object.entries(params)) out[k] = typeof v === 'string' && v.length > 2000 ? `${v.slice(0, 2000)}…` : v;
  return out;
}

async function handleBotApi(req, res) {
  const { token } = req.params;
  const name = String(req.params.method || '');
  const bot = getBot(token);
  let params = {};
  const call = { method: name, time: Date.now() / 1000 };
  try {
    const parsed = await readParams(req);
    params = parsed.params;
    call.params = summarize(params);
    const fn = methods[name.toLowerCase()];
    if (!fn) {
      log(`unsupported Bot API method: ${name}`);
      throw new ApiError(404, `Not Found: method ${name} is not implemented by the emulator`);
    }
    const result = await fn(bot, params, parsed.files);
    call.ok = true;
    if (name.toLowerCase() !== 'getupdates' || (Array.isArray(result) && result.length)) bot.calls.push(call);
    sendOk(res, result);
  } catch (err) {
    call.ok = false;
    call.error = err instanceof ApiError ? err.description : String(err && err.message);
    bot.calls.push(call);
    sendFail(res, err);
  }
}

// ---------------------------------------------------------------- simulated users (/emu/...)
function registerUser(bot, p, userId) {
  const user = {
    id: userId,
    is_bot: false,
    first_name: strParam(p, 'first_name') || `User${userId}`,
  };
  const lastName = strParam(p, 'last_name');
  if (lastName) user.last_name = lastName;
  const username = strParam(p, 'username');
  if (username) user.username = username;
  user.language_code = strParam(p, 'language_code') || 'zh-hans';
  bot.users.set(userId, user);
  return user;
}

function registerSender(bot, p) {
  const chatId = intParam(p, 'chat_id');
  const chatType = strParam(p, 'chat_type') || 'private';
  if (!['private', 'group', 'supergroup'].includes(chatType)) throw badRequest('chat_type must be private, group or supergroup');
  const userId = intParam(p, 'user_id', { required: false }) ?? (chatType === 'private' ? chatId : 1);
  if (chatType === 'private' && userId !== chatId) throw badRequest('in a private chat, chat_id must equal user_id');
  const user = registerUser(bot, p, userId);
  let chat = bot.chats.get(chatId);
  if (!chat || chat.type !== chatType) {
    if (chatType === 'private') {
      chat = { id: chatId, type: 'private', first_name: user.first_name };
      if (user.last_name) chat.last_name = user.last_name;
      if (user.username) chat.username = user.username;
    } else {
      chat = { id: chatId, type: chatType, title: strParam(p, 'chat_title') || `Group ${chatId}` };
    }
    bot.chats.set(chatId, chat);
  }
  return { chat, user };
}

async function userMessage(bot, p, fields, meta) {
  const { chat, user } = registerSender(bot, p);
  const msg = { message_id: nextMessageId(), from: user, chat, date: nowSec(), ...fields };
  const replyTo = intParam(p, 'reply_to_message_id', { required: false });
  if (replyTo !== undefined) {
    const rec = findRecord(bot, chat.id, replyTo);
    if (!rec || rec.deleted) throw badRequest('message to be replied not found');
    msg.reply_to_message = quoted(rec.msg);
  }
  const entry = { botToken: bot.token, update: { update_id: 0, message: msg } };
  const rec = addRecord(bot, msg, { from_bot: false, method: meta.method });
  const delivery = await ts.addUserUpdate(entry);
  rec.update_id = entry.updateId;
  return { entry, delivery, msg };
}

function deliveryResult(res, entry, delivery, payload) {
  if (delivery.error) {
    throw new ApiError(502, `Bad Gateway: update ${entry.updateId} was not delivered to the webhook: ${delivery.error}`);
  }
  sendOk(res, { update_id: entry.updateId, delivered_to_webhook: Boolean(delivery.delivered), ...payload });
}

function tokenOf(p) {
  const token = strParam(p, 'token');
  if (!token) throw badRequest('token is required');
  return token;
}

const emu = {};

emu.sendMessage = async (p, files, res) => {
  const bot = getBot(tokenOf(p));
  const text = strParam(p, 'text');
  if (!text) throw badRequest('message text is empty');
  const explicit = jsonParam(p, 'entities');
  const entities = explicit !== undefined ? explicit : userEntities(text);
  const fields = { text };
  if (entities.length) fields.entities = entities;
  const { entry, delivery, msg } = await userMessage(bot, p, fields, { method: 'sendMessage' });
  deliveryResult(res, entry, delivery, { message: msg });
};

emu.sendDocument = async (p, files, res) => {
  const bot = getBot(tokenOf(p));
  const up = files.document;
  if (!up) throw badRequest('multipart file field "document" is required');
  if (up.data.length > MAX_UPLOAD_BYTES) throw new ApiError(413, 'Request Entity Too Large');
  const file = newFile(bot, {
    data: up.data,
    fileName: strParam(p, 'file_name') || up.filename,
    mimeType: strParam(p, 'mime_type') || (up.mimeType !== 'application/octet-stream' ? up.mimeType : undefined) || 'application/octet-stream',
  });
  const fields = { document: documentObject(file) };
  const caption = strParam(p, 'caption');
  if (caption) {
    fields.caption = caption;
    const ents = userEntities(caption);
    if (ents.length) fields.caption_entities = ents;
  }
  const { entry, delivery, msg } = await userMessage(bot, p, fields, { method: 'sendDocument' });
  deliveryResult(res, entry, delivery, { message: msg });
};

emu.pressButton = async (p, files, res) => {
  const bot = getBot(tokenOf(p));
  const chatId = intParam(p, 'chat_id');
  const messageId = intParam(p, 'message_id');
  const rec = findRecord(bot, chatId, messageId);
  if (!rec || rec.deleted) throw badRequest('message not found');
  const kb = rec.msg.reply_markup && rec.msg.reply_markup.inline_keyboard;
  if (!kb) throw badRequest('the message has no inline keyboard');
  const data = strParam(p, 'data');
  const text = strParam(p, 'button_text');
  const buttons = kb.flat().filter((b) => b.callback_data !== undefined);
  const button = buttons.find((b) => (data !== undefined ? b.callback_data === data : b.text === text));
  if (!button) {
    throw badRequest(`no callback button with ${data !== undefined ? `data ${JSON.stringify(data)}` : `text ${JSON.stringify(text)}`}; `
      + `buttons: ${JSON.stringify(buttons.map((b) => [b.text, b.callback_data]))}`);
  }
  const chat = requireChat(bot, chatId);
  const userParams = { ...p, chat_type: chat.type };
  if (chat.type === 'private') userParams.user_id = chatId;
  const { user } = registerSender(bot, userParams);
  const id = `${bot.user.id}${String(callbackCounter++).padStart(8, '0')}`;
  const query = {
    id,
    from: user,
    message: rec.msg,
    chat_instance: chatInstance(bot.token, chatId),
    data: button.callback_data,
  };
  bot.callbacks.set(id, { query, answer: null });
  const entry = { botToken: bot.token, update: { update_id: 0, callback_query: query } };
  const delivery = await ts.addUserUpdate(entry);
  deliveryResult(res, entry, delivery, { callback_query: query });
};

/** A simulated user answers a poll: Telegram sends the bot a poll_answer update for non-anonymous polls. */
emu.answerPoll = async (p, files, res) => {
  const bot = getBot(tokenOf(p));
  const pollId = strParam(p, 'poll_id');
  const messageId = intParam(p, 'message_id', { required: false });
  const entry = pollId !== undefined ? bot.polls.get(pollId)
    : [...bot.polls.values()].find((e) => e.messageId === messageId);
  if (!entry) throw badRequest('poll not found');
  const chat = requireChat(bot, entry.chatId);
  const userParams = { ...p, chat_id: chat.id, chat_type: chat.type };
  if (chat.type === 'private') userParams.user_id = chat.id;
  const { user } = registerSender(bot, userParams);
  const optionIds = (jsonParam(p, 'option_ids') || []).map(Number);
  const { poll } = entry;
  if (poll.is_closed) throw badRequest('poll is closed');
  if (optionIds.some((i) => !(i >= 0 && i < poll.options.length)) || new Set(optionIds).size !== optionIds.length) {
    throw badRequest('wrong option ids');
  }
  if (optionIds.length > 1 && !poll.allows_multiple_answers) throw badRequest('poll allows only one answer');
  const before = entry.answers.get(user.id) || [];
  if (!poll.allows_revoting && before.length) throw badRequest("poll answers can't be changed");
  for (const i of before) poll.options[i].voter_count -= 1;
  for (const i of optionIds) poll.options[i].voter_count += 1;
  if (!before.length && optionIds.length) poll.total_voter_count += 1;
  if (before.length && !optionIds.length) poll.total_voter_count -= 1;
  if (optionIds.length) entry.answers.set(user.id, optionIds);
  else entry.answers.delete(user.id);
  if (poll.is_anonymous) {
    sendOk(res, { delivered_to_webhook: false, poll });
    return;
  }
  const answer = {
    poll_id: poll.id, user, option_ids: optionIds, option_persistent_ids: optionIds.map((i) => poll.options[i].persistent_id),
  };
  const update = { botToken: bot.token, update: { update_id: 0, poll_answer: answer } };
  const delivery = await ts.addUserUpdate(update);
  deliveryResult(res, update, delivery, { poll_answer: answer, poll });
};

emu.sendInlineQuery = async (p, files, res) => {
  const bot = getBot(tokenOf(p));
  const query = strParam(p, 'query') || '';
  if (query.length > 256) throw badRequest('inline query is longer than 256 characters');
  const user = registerUser(bot, p, intParam(p, 'user_id'));
  const inline = {
    id: `${bot.user.id}${String(inlineCounter++).padStart(8, '0')}`,
    from: user,
    query,
    offset: strParam(p, 'offset') || '',
    chat_type: strParam(p, 'chat_type') || 'sender',
  };
  bot.inlineQueries.set(inline.id, { query: inline, answer: null });
  const entry = { botToken: bot.token, update: { update_id: 0, inline_query: inline } };
  const delivery = await ts.addUserUpdate(entry);
  deliveryResult(res, entry, delivery, { inline_query: inline });
};

emu.inlineAnswers = async (p, files, res) => {
  const bot = getBot(tokenOf(p));
  const id = strParam(p, 'inline_query_id');
  const answers = [...bot.inlineQueries.values()].filter((q) => q.answer && (!id || q.query.id === id));
  sendOk(res, answers.map((q) => q.answer));
};

emu.chooseInlineResult = async (p, files, res) => {
  const bot = getBot(tokenOf(p));
  const iq = bot.inlineQueries.get(strParam(p, 'inline_query_id') || '');
  if (!iq || !iq.answer) throw badRequest('the inline query has no answer to choose from');
  const result = iq.answer.results.find((r) => r.id === strParam(p, 'result_id'));
  if (!result) throw badRequest(`no inline result ${JSON.stringify(strParam(p, 'result_id'))}`);
  const { chat, user } = registerSender(bot, { ...p, user_id: iq.query.from.id });
  const content = result.input_message_content;
  const { text, entities } = formatText(content.message_text, content.parse_mode, content.entities);
  const msg = { message_id: nextMessageId(), from: user, chat, date: nowSec(), via_bot: botSender(bot), text };
  if (entities) msg.entities = entities;
  // Posted by the user through the bot: the bot is not told (it may not even be in the chat).
  addRecord(bot, msg, { from_bot: false, method: 'inline', raw_text: content.message_text, parse_mode: content.parse_mode });
  sendOk(res, { message: msg });
};

emu.messages = async (p, files, res) => {
  const bot = getBot(tokenOf(p));
  const chatId = intParam(p, 'chat_id', { required: false });
  const recs = bot.records.filter((r) => chatId === undefined || r.msg.chat.id === chatId);
  sendOk(res, recs.map(recordView));
};

emu.chatActions = async (p, files, res) => {
  const bot = getBot(tokenOf(p));
  const chatId = intParam(p, 'chat_id', { required: false });
  sendOk(res, bot.actions.filter((a) => chatId === undefined || a.chat_id === chatId));
};

emu.callbackAnswers = async (p, files, res) => {
  const bot = getBot(tokenOf(p));
  sendOk(res, [...bot.callbacks.values()].filter((c) => c.answer).map((c) => c.answer));
};

emu.commands = async (p, files, res) => {
  const bot = getBot(tokenOf(p));
  sendOk(res, methods.getmycommands(bot, p));
};

emu.calls = async (p, files, res) => {
  const bot = getBot(tokenOf(p));
  const method = strParam(p, 'method');
  sendOk(res, bot.calls.filter((c) => !method || c.method.toLowerCase() === method.toLowerCase()));
};

emu.webhookInfo = async (p, files, res) => {
  sendOk(res, methods.getwebhookinfo(getBot(tokenOf(p))));
};

emu.setChatAdministrators = async (p, files, res) => {
  const bot = getBot(tokenOf(p));
  const chat = requireChat(bot, intParam(p, 'chat_id'));
  const ids = jsonParam(p, 'user_ids') || [];
  const owner = intParam(p, 'owner_id', { required: false });
  bot.admins.set(chat.id, { owner_id: owner === undefined ? null : owner, admin_ids: ids.map(Number) });
  sendOk(res, true);
};

emu.file = async (p, files, res) => {
  const bot = getBot(tokenOf(p));
  const file = bot.files.get(strParam(p, 'file_id') || '');
  if (!file) throw new ApiError(404, 'Not Found: file');
  res.status(200).type('application/octet-stream').send(file.data);
};

emu.reset = async (p, files, res) => {
  resetBot(tokenOf(p));
  sendOk(res, true);
};

// ---------------------------------------------------------------- routes
function installRoutes(app) {
  app.set('etag', false);
  app.get('/', (req, res) => sendOk(res, { emulator: 'telegram-test-api wrapper', bots: bots.size }));
  app.all('/emu/:action', async (req, res) => {
    const fn = emu[req.params.action];
    try {
      if (!fn) throw new ApiError(404, `Not Found: /emu/${req.params.action}`);
      const { params, files } = await readParams(req);
      await fn(params, files, res);
    } catch (err) {
      sendFail(res, err);
    }
  });
  app.all('/bot:token/:method', (req, res) => {
    if (req.method !== 'GET' && req.method !== 'POST') {
      sendFail(res, new ApiError(405, 'Method Not Allowed'));
      return;
    }
    handleBotApi(req, res).catch((err) => sendFail(res, err));
  });
  app.get('/file/bot:token/*', (req, res) => {
    const bot = bots.get(req.params.token);
    const path = req.params[0];
    const file = bot && [...bot.files.values()].find((f) => f.file_path === path);
    if (!file) {
      res.status(404).json({ ok: false, error_code: 404, description: 'Not Found' });
      return;
    }
    res.status(200).type(file.mime_type || 'application/octet-stream').send(file.data);
  });
}

// ---------------------------------------------------------------- start
process.on('unhandledRejection', (err) => log(`unhandled rejection: ${err && err.stack ? err.stack : err}`));

const server = http.createServer(ts.webServer);
server.keepAliveTimeout = 30000;
server.on('error', (err) => {
  log(`server error: ${err.stack || err}`);
  process.exit(1);
});
server.listen(OPTS.port, OPTS.host, () => {
  const { port } = server.address();
  ts.config.port = port;
  ts.config.apiURL = `http://${OPTS.host}:${port}`;
  process.stdout.write(`EMULATOR READY port=${port}\n`);
});

let stopping = false;
function shutdown(why) {
  if (stopping) return;
  stopping = true;
  log(`stopping (${why})`);
  for (const bot of bots.values()) wakePollers(bot);
  server.close(() => process.exit(0));
  if (server.closeAllConnections) server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
if (OPTS.exitWithStdin) {
  process.stdin.on('end', () => shutdown('stdin closed'));
  process.stdin.on('error', () => shutdown('stdin error'));
  process.stdin.resume();
}
