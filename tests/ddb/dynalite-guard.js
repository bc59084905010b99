// dynalite-guard.js - preloaded into dynalite (node -r) by with-dynalite.sh.
//
// dynalite 3.2.2 rethrows every error of a request it is reading
// (index.js: req.on('error', function(err) { throw err })). A client that
// dies in the middle of sending a request -- a kill -9 of itemfs during a
// PutItem, which is what test_ddb_kill.sh does on purpose -- makes Node
// report the request 'aborted' (ECONNRESET), and the throw ends the server:
// every later request of the test then fails with "Couldn't connect", and
// the test fails for the server's sake, not itemfs's. DynamoDB drops such a
// request and goes on serving; so does dynalite with this guard. The aborted
// request never reached dynalite's store (it is handled only once its body
// is whole), so nothing is lost by going on. Any other uncaught error still
// ends the server as Node would: its stack on stderr, exit status 1.
'use strict';

process.on('uncaughtException', (err) => {
	if (err && err.code === 'ECONNRESET' && err.message === 'aborted') {
		process.stderr.write('dynalite-guard: a client went away in the middle of a request; serving on\n');
		return;
	}
	process.stderr.write(((err && err.stack) || String(err)) + '\n');
	process.exit(1);
});
