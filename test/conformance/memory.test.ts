import { runConformance } from './index.js';
import { memoryDriver } from '../../src/drivers/memory.js';

runConformance('memory', () => memoryDriver());
