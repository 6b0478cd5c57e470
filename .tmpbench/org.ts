import { writeOrg } from '../bench/dpiaOrg.ts';
writeOrg(process.argv[2]!, Number(process.argv[3]), Number(process.argv[4]));
