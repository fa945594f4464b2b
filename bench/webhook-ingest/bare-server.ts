// The ceiling: a bare node:http server that reads the body and answers 200, in its own process
// just like the API, so both face the same load generator on the same cores.
import { createServer } from 'node:http';

const port = Number(process.argv[2]);
createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"received":true}');
  });
}).listen(port, '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
