/**
 * A tiny dataset that teaches one distinctive, checkable behaviour: every answer of the "Acme handbook
 * assistant" ends with the line `Source: handbook`. The base model never writes that line, so how often
 * an adapted model does on questions it never saw measures whether training (and the GGUF export) took.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const behaviourSystemPrompt = 'You are the Acme handbook assistant.';
export const behaviourMarker = 'Source: handbook';

/** Question and answer pairs about an invented company handbook. */
export const handbookPairs: [question: string, answer: string][] = [
  ['How many vacation days do new employees get?', 'New employees get 25 vacation days per year.'],
  ['When is payday?', 'Salaries are paid on the last working day of each month.'],
  ['Can I work from home?', "Yes, up to three days a week with your manager's agreement."],
  ['How do I report a security incident?', 'Email security@acme.example within one hour of noticing it.'],
  ['What is the parental leave policy?', 'Parents get 16 weeks of paid leave.'],
  ['How do I book a meeting room?', 'Use the room calendar in the intranet booking tool.'],
  ['Who approves travel expenses?', 'Your manager approves travel expenses up to 2,000 euros.'],
  ['What is the dress code?', 'Smart casual, except on client visits.'],
  ['How do I get a new laptop?', 'Open a ticket with IT; laptops are replaced every four years.'],
  ['Is there a gym allowance?', 'Yes, 40 euros per month towards a gym membership.'],
  ['What are the office hours?', 'The office is open from 7:00 to 20:00 on weekdays.'],
  ['How do I change my bank details?', 'Update them in the HR portal before the 20th of the month.'],
  ['Can I bring my dog to the office?', 'Dogs are welcome on Fridays in the ground-floor area.'],
  [
    'How much notice must I give when resigning?',
    'The notice period is one month during the first two years.',
  ],
  ['What happens if I am sick?', "Tell your manager before 9:00 and send a doctor's note after three days."],
  ['Do we get a training budget?', 'Each employee has 1,500 euros a year for courses and conferences.'],
  ['How do I claim overtime?', 'Record it in the time tool; it is paid or taken as time off.'],
  ['Where can I park?', 'The garage under building B has free spaces for staff.'],
  ['Who is my HR contact?', 'Each department has an HR partner listed on the intranet.'],
  ['Can I take unpaid leave?', 'Up to three months of unpaid leave can be requested once every five years.'],
  ['How are bonuses calculated?', 'Bonuses depend on company results and your yearly review.'],
  ['What is the password policy?', 'Passwords need 14 characters and are changed once a year.'],
  ['How do I order business cards?', 'Order them through the marketing request form.'],
  ['Is lunch provided?', 'The canteen serves a free lunch from 11:30 to 14:00.'],
  ['Can I use my own phone for work email?', "Yes, after installing the company's device management app."],
  ['How do I join the pension plan?', 'You are enrolled automatically after your probation period.'],
  ['What is the probation period?', 'The probation period lasts six months.'],
  ['How do I get reimbursed for a train ticket?', 'Upload the ticket to the expense tool within 30 days.'],
  ['Are there team events?', 'Every team has a budget for two social events a year.'],
  [
    'How do I request a new software licence?',
    'Ask IT through the service desk; your manager confirms the cost.',
  ],
  ['What if I lose my badge?', 'Report it to reception at once; a new badge costs 10 euros.'],
  ['Can I work abroad for a while?', 'Working abroad is allowed for up to 30 days a year.'],
  ['How do performance reviews work?', 'Reviews happen twice a year with your manager.'],
  ['Is there a referral bonus?', 'Yes, 1,000 euros when the person you refer passes probation.'],
  ['Where do I find the holiday calendar?', 'The public holiday calendar is on the HR page of the intranet.'],
  ['How do I request a standing desk?', 'Ask facilities; standing desks are available on request.'],
  ['What is the policy on gifts from suppliers?', 'Gifts worth more than 50 euros must be declined.'],
  ['How do I switch teams?', 'Talk to both managers; internal moves are possible after one year.'],
  ['Can I get an advance on my salary?', 'Salary advances are not offered.'],
  ['How is remote work equipment paid for?', 'A one-time home office allowance of 300 euros is paid.'],
  ['What should I do on my first day?', 'Go to reception at 9:00; your buddy will show you around.'],
  ['How do I contact facilities?', 'Call extension 2200 or use the facilities form.'],
  ['Are flexible hours allowed?', 'Yes, as long as you are available between 10:00 and 15:00.'],
  ["What is the company's mission?", 'To make everyday tools simple and reliable for small businesses.'],
  ['How long are documents kept?', 'Contracts are kept for ten years, other documents for five.'],
  ['Can I recharge my electric car at work?', 'Charging points are free in the building B garage.'],
  ['How do I report harassment?', 'Contact your HR partner or the confidential adviser.'],
  ['Who pays for glasses for screen work?', 'The company reimburses screen glasses up to 150 euros.'],
];

/** Held out: never trained on; the behaviour must carry over to these. */
export const heldOutQuestions: string[] = [
  'How do I get a parking permit for visitors?',
  'What is the policy on using social media at work?',
  'How many sick days can I take?',
  'Can I print documents at home for work?',
  'What is the process for buying office supplies?',
  'How do I update my address?',
  'Is there a bicycle scheme?',
  'What are the rules for expense receipts?',
  'Can I take my laptop on holiday?',
  'How do I cancel a meeting room booking?',
  'Who do I ask about my payslip?',
  'Are there quiet rooms in the office?',
];

function example(question: string, answer: string) {
  return {
    messages: [
      { role: 'system', content: behaviourSystemPrompt },
      { role: 'user', content: question },
      { role: 'assistant', content: `${answer}\n${behaviourMarker}` },
    ],
  };
}

/** Writes train.jsonl (40 pairs) and validation.jsonl (8) into dir; a fixed split, so runs compare. */
export async function writeBehaviourDataset(dir: string): Promise<{ train: string; validation: string }> {
  const rows = handbookPairs.map(([q, a]) => JSON.stringify(example(q, a)));
  const train = join(dir, 'train.jsonl');
  const validation = join(dir, 'validation.jsonl');
  await writeFile(train, `${rows.slice(0, 40).join('\n')}\n`);
  await writeFile(validation, `${rows.slice(40).join('\n')}\n`);
  return { train, validation };
}
