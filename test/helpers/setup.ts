/**
 * Jest setup for every test file: the nodes keep one request limiter per Faseeh account for the
 * whole process (what a 429 taught them included). Each test starts from a process that has seen
 * no 429, as a fresh n8n would.
 */
import { resetAccountLimiters } from '../../nodes/shared/transport/limiter';

afterEach(() => resetAccountLimiters());
