// stale-proxy.js - a DynamoDB-API proxy that serves stale eventually
// consistent reads, to prove that itemfs's strong reads (fsync, O_DIRECT,
// -o consistent_reads) really ask for ConsistentRead and that its eventual
// reads are allowed to lag.
//
//   node stale-proxy.js LISTEN_PORT UPSTREAM_URL LAG_MS [--transact]
//
// Every request goes to UPSTREAM_URL (dynalite) unchanged, except GetItem,
// BatchGetItem, Query and Scan without "ConsistentRead": true: the first
// such request is answered by the upstream and its answer remembered; the
// same request (byte for byte) within LAG_MS after that is answered from
// memory, however the data changed since. That is what DynamoDB allows an
// eventually consistent read to return (a state up to some delay old), made
// deterministic. Writes and consistent reads are never delayed or cached.
//
// --transact: the proxy also answers TransactWriteItems, which dynalite
// lacks, so that itemfs's TransactWriteItems commit path runs against a
// server: one at a time, it reads (strongly) the item of every action that
// has a condition, evaluates the conditions (the forms itemfs sends:
// attribute_exists/attribute_not_exists(#n) and #n = :v, joined by AND or
// OR), and if all hold applies every action in order with the single-item
// calls; else it answers TransactionCanceledException with one reason per
// action, applying nothing. A ClientRequestToken seen before is answered
// as before without applying anything again. Not atomic against other
// writers: itemfs serialises its writers with its lock anyway.
//
// Prints "listening PORT" on stdout once it accepts connections. Counts
// are served at GET /stats as JSON: {"stale": N, "fresh": N, "strong": N,
// "transactions": N, "cancelled": N, "ops": {"GetItem": N, ...}}.
'use strict';

const http = require('http');

const [port, upstream, lagArg, flag] = process.argv.slice(2);
if (!port || !upstream || lagArg === undefined) {
	process.stderr.write('usage: node stale-proxy.js LISTEN_PORT UPSTREAM_URL LAG_MS\n');
	process.exit(2);
}
const lag = Number(lagArg);
const up = new URL(upstream);
const remembered = new Map(); // body -> {at, status, headers, body}
const transact = flag === '--transact';
const stats = {stale: 0, fresh: 0, strong: 0, transactions: 0, cancelled: 0, ops: {}};
const READS = new Set(['GetItem', 'BatchGetItem', 'Query', 'Scan']);

function forward(req, body, done) {
	const headers = Object.assign({}, req.headers);
	headers.host = up.host;
	const r = http.request({
		host: up.hostname,
		port: up.port,
		method: req.method,
		path: req.url,
		headers: headers,
	}, (res) => {
		const chunks = [];
		res.on('data', (c) => chunks.push(c));
		res.on('end', () => done(null, res.statusCode, res.headers, Buffer.concat(chunks)));
	});
	r.on('error', (e) => done(e));
	r.end(body);
}

// One DynamoDB call to the upstream: resolves to {status, json}.
function upcall(req, op, body) {
	return new Promise((resolve, reject) => {
		const headers = Object.assign({}, req.headers);
		headers['x-amz-target'] = 'DynamoDB_20120810.' + op;
		const data = Buffer.from(JSON.stringify(body));
		headers['content-length'] = data.length;
		forward({method: 'POST', url: '/', headers}, data, (err, status, h, out) => {
			if (err)
				return reject(err);
			let json = {};
			try {
				json = JSON.parse(out.toString('utf8') || '{}');
			} catch (e) {
				json = {};
			}
			resolve({status, json});
		});
	});
}

function same(a, b) {
	return JSON.stringify(a) === JSON.stringify(b);
}

// Evaluates one ConditionExpression of the forms itemfs sends on item.
function holds(expr, names, values, item) {
	const name = (n) => (names && names[n]) || n;
	return expr.split(/\s+OR\s+/).some((alt) => alt.split(/\s+AND\s+/).every((term) => {
		let m = term.trim().match(/^attribute_(not_)?exists\((#?\w+)\)$/);
		if (m)
			return Boolean(item && name(m[2]) in item) === !m[1];
		m = term.trim().match(/^(#?\w+)\s*=\s*(:\w+)$/);
		if (m)
			return !!item && same(item[name(m[1])], values[m[2]]);
		throw new Error('stale-proxy.js: a condition it cannot evaluate: ' + term);
	}));
}

const tokens = new Map(); // ClientRequestToken -> the answer it got
let queue = Promise.resolve(); // one transaction at a time

async function transactWrite(req, body) {
	const r = JSON.parse(body.toString('utf8'));
	if (r.ClientRequestToken && tokens.has(r.ClientRequestToken))
		return tokens.get(r.ClientRequestToken);
	const acts = r.TransactItems || [];
	if (acts.length === 0 || acts.length > 100)
		return {status: 400, json: {__type: 'com.amazon.coral.validation#ValidationException',
			message: 'TransactItems must have 1 to 100 items'}};
	const reasons = [];
	let failed = false;
	for (const a of acts) {
		const kind = Object.keys(a)[0];
		const x = a[kind];
		if (!x.ConditionExpression) {
			reasons.push({Code: 'None'});
			continue;
		}
		const key = x.Key || {p: x.Item.p, s: x.Item.s};
		const got = await upcall(req, 'GetItem', {TableName: x.TableName, Key: key, ConsistentRead: true});
		if (got.status !== 200)
			return got;
		const ok = holds(x.ConditionExpression, x.ExpressionAttributeNames,
			x.ExpressionAttributeValues, got.json.Item);
		reasons.push({Code: ok ? 'None' : 'ConditionalCheckFailed'});
		failed = failed || !ok;
	}
	let answer;
	if (failed) {
		stats.cancelled++;
		answer = {status: 400, json: {__type: 'com.amazonaws.dynamodb.v20120810#TransactionCanceledException',
			message: 'Transaction cancelled, please refer cancellation reasons for specific reasons',
			CancellationReasons: reasons}};
	} else {
		for (const a of acts) {
			const kind = Object.keys(a)[0];
			const x = a[kind];
			let done = {status: 200};
			if (kind === 'Put')
				done = await upcall(req, 'PutItem', {TableName: x.TableName, Item: x.Item});
			else if (kind === 'Delete')
				done = await upcall(req, 'DeleteItem', {TableName: x.TableName, Key: x.Key});
			else if (kind === 'Update')
				done = await upcall(req, 'UpdateItem', {TableName: x.TableName, Key: x.Key,
					UpdateExpression: x.UpdateExpression,
					ExpressionAttributeNames: x.ExpressionAttributeNames,
					ExpressionAttributeValues: x.ExpressionAttributeValues});
			if (done.status !== 200)
				return done; // half applied: the tests would see it
		}
		stats.transactions++;
		answer = {status: 200, json: {}};
	}
	if (r.ClientRequestToken)
		tokens.set(r.ClientRequestToken, answer);
	return answer;
}

function reply(res, status, headers, body) {
	const h = Object.assign({}, headers);
	delete h['transfer-encoding'];
	h['content-length'] = body.length;
	res.writeHead(status, h);
	res.end(body);
}

const server = http.createServer((req, res) => {
	const chunks = [];
	req.on('data', (c) => chunks.push(c));
	req.on('end', () => {
		if (req.method === 'GET' && req.url === '/stats') {
			reply(res, 200, {'content-type': 'application/json'},
				Buffer.from(JSON.stringify(stats)));
			return;
		}
		const body = Buffer.concat(chunks);
		const target = String(req.headers['x-amz-target'] || '');
		const op = target.slice(target.indexOf('.') + 1);
		stats.ops[op] = (stats.ops[op] || 0) + 1;
		if (transact && op === 'TransactWriteItems') {
			const run = queue.then(() => transactWrite(req, body));
			queue = run.catch(() => {});
			run.then((a) => reply(res, a.status, {'content-type': 'application/x-amz-json-1.0'},
				Buffer.from(JSON.stringify(a.json))),
			(e) => reply(res, 500, {'content-type': 'text/plain'}, Buffer.from(String(e))));
			return;
		}
		let eventual = false;
		if (READS.has(op)) {
			try {
				eventual = JSON.parse(body.toString('utf8')).ConsistentRead !== true;
			} catch (e) {
				eventual = false;
			}
			if (!eventual)
				stats.strong++;
		}
		const key = eventual ? body.toString('latin1') : null;
		const old = key !== null ? remembered.get(key) : undefined;
		if (old && Date.now() - old.at < lag) {
			stats.stale++;
			reply(res, old.status, old.headers, old.body);
			return;
		}
		forward(req, body, (err, status, headers, out) => {
			if (err) {
				reply(res, 502, {'content-type': 'text/plain'}, Buffer.from(String(err)));
				return;
			}
			if (key !== null) {
				stats.fresh++;
				if (status === 200 && lag > 0)
					remembered.set(key, {at: Date.now(), status, headers, body: out});
			}
			reply(res, status, headers, out);
		});
	});
});
server.keepAliveTimeout = 60000;
server.listen(Number(port), '127.0.0.1', () => {
	process.stdout.write('listening ' + server.address().port + '\n');
});
